//! The memory allocator of the bot's binaries: [`use_mimalloc!`](crate::use_mimalloc) makes
//! mimalloc the allocator of the binary that invokes it (the bot, and the load tool with its
//! baseline, so both sides of a measurement allocate alike), set up by [`configure`] as the
//! program loads.
//!
//! Why: at saturation the bot spent about a fifth of its time in the system allocator's
//! malloc and free (many small, short-lived allocations from several threads); mimalloc's
//! per-thread free lists serve them faster. Its defaults suit servers with memory to spare
//! (arenas committed eagerly, freed memory returned to the system after a delay), which more
//! than doubled the baseline bot's resident memory; [`configure`] turns both off. Tests and
//! benchmarks keep the system allocator (the screen benchmark counts bytes with its own).

pub use mimalloc::MiMalloc;

/// Makes mimalloc the global allocator of the invoking binary and runs [`configure`] as the
/// program is loaded, before anything has allocated (on Linux, from the ELF `.init_array`):
/// mimalloc reserves its first arena at the first allocation, which happens before `main`,
/// and options set after it do not reach that arena.
#[macro_export]
macro_rules! use_mimalloc {
    () => {
        #[global_allocator]
        static ALLOCATOR: $crate::allocator::MiMalloc = $crate::allocator::MiMalloc;

        #[cfg(target_os = "linux")]
        #[used]
        #[unsafe(link_section = ".init_array")]
        static CONFIGURE_AT_LOAD: extern "C" fn() = $crate::allocator::configure;
    };
}

/// mimalloc's option numbers (`mi_option_t` in its `mimalloc.h`) for what [`configure`] sets.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets the allocator up for a small resident footprint: memory is committed only when it is
/// used, and what is freed goes back to the system at once. Called by the loader, through
/// [`use_mimalloc!`](crate::use_mimalloc) (Linux only: set later, in `main`, the options no
/// longer reach the first arena; elsewhere mimalloc keeps its defaults).
#[doc(hidden)]
pub extern "C" fn configure() {
    // SAFETY: `mi_option_set` only stores a number in mimalloc's option table; both options
    // exist in the bundled mimalloc (v3) and may be changed while the process runs.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}

#[cfg(test)]
mod tests {
    crate::use_mimalloc!();

    #[cfg(target_os = "linux")]
    #[test]
    fn the_options_are_set_as_the_program_loads() {
        // Nothing in this test binary calls `configure`: the load-time hook did.
        // SAFETY: `mi_option_get` only reads mimalloc's option table.
        let (eager, delay) = unsafe {
            (
                libmimalloc_sys::mi_option_get(super::ARENA_EAGER_COMMIT),
                libmimalloc_sys::mi_option_get(super::PURGE_DELAY),
            )
        };
        assert_eq!((eager, delay), (0, 0));
    }
}
