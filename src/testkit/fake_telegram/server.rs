//! The fake's HTTP side: one axum route for every Bot API method, answering as Telegram does
//! (JSON bodies, or multipart forms for files, read with axum's `Multipart`), long polling for
//! `getUpdates`, and the failures a test injects.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, State};
use axum::http::{Request as HttpRequest, StatusCode, header};
use serde_json::{Value, json};

use super::{BOT_ID, BROKEN_CONNECTION, FakeEvent, Request, SENDING, Shared};

/// A request's body as JSON: a JSON body as it is, a multipart form as an object of its fields.
async fn body_of(request: HttpRequest<Body>) -> Value {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    if is_form {
        match Multipart::from_request(request, &()).await {
            Ok(form) => form_fields(form).await,
            Err(_) => Value::Null,
        }
    } else {
        match Bytes::from_request(request, &()).await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }
}

/// The fields of a multipart form (teloxide sends `setWebhook`, `sendPhoto` and
/// `sendDocument` that way), as a JSON object: a field holding JSON (a list, say) is parsed, and
/// a file becomes `{"__file": name, "__bytes": [...]}`.
async fn form_fields(mut form: Multipart) -> Value {
    let mut fields = serde_json::Map::new();
    while let Ok(Some(field)) = form.next_field().await {
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        let file_name = field.file_name().map(str::to_owned);
        let Ok(bytes) = field.bytes().await else {
            continue;
        };
        let value = match file_name {
            Some(file_name) => json!({ "__file": file_name, "__bytes": bytes.to_vec() }),
            None => {
                let text = String::from_utf8_lossy(&bytes);
                serde_json::from_str(&text).unwrap_or_else(|_| json!(text))
            }
        };
        fields.insert(name, value);
    }
    Value::Object(fields)
}

/// Puts each file where the field naming it (`"photo": "attach://<part>"`) points.
fn resolve_attachments(body: &mut Value) {
    let Some(fields) = body.as_object_mut() else {
        return;
    };
    let references: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(name, value)| {
            let part = value.as_str()?.strip_prefix("attach://")?;
            Some((name.clone(), part.to_owned()))
        })
        .collect();
    for (name, part) in references {
        if let Some(file) = fields.remove(&part) {
            fields.insert(name, file);
        }
    }
}

pub(super) async fn answer(
    State(shared): State<Arc<Shared>>,
    Path((_bot, method)): Path<(String, String)>,
    request: HttpRequest<Body>,
) -> (StatusCode, Json<Value>) {
    let method = method.to_lowercase();
    let mut body = body_of(request).await;
    resolve_attachments(&mut body);
    if matches!(method.as_str(), "getupdates" | "setwebhook")
        && let Some(observer) = &shared.options.observer
    {
        observer(FakeEvent::Asked {
            webhook: method == "setwebhook",
        });
    }
    if method == "getupdates" {
        return get_updates(&shared, &body).await;
    }
    let mut inner = shared.inner.lock().expect("the fake's lock");
    if let Some(position) = inner
        .failures
        .iter()
        .position(|failure| failure.method == method)
    {
        let failure = inner
            .failures
            .remove(position)
            .expect("a failure at that position");
        inner.requests.push(Request {
            method: format!("failed:{method}"),
            body,
            at: Instant::now(),
        });
        shared.changed.notify_all();
        if failure.status == BROKEN_CONNECTION {
            drop(inner);
            // Ends this connection's task without a response (and without a panic message):
            // the client sees the connection close mid-request.
            std::panic::resume_unwind(Box::new("the fake breaks this connection"));
        }
        let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_GATEWAY);
        return (status, Json(failure.body));
    }
    if shared.options.limits && SENDING.contains(&method.as_str()) {
        let chat = body["chat_id"].as_i64().unwrap_or_default();
        if let Err(wait) = inner.limits.admit(chat, Instant::now()) {
            inner.rejected += 1;
            let seconds = wait.as_secs() + 1;
            inner.requests.push(Request {
                method: format!("rejected:{method}"),
                body,
                at: Instant::now(),
            });
            drop(inner);
            shared.changed.notify_all();
            return (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({
                    "ok": false,
                    "error_code": 429,
                    "description": format!("Too Many Requests: retry after {seconds}"),
                    "parameters": { "retry_after": seconds },
                })),
            );
        }
    }
    let result = match method.as_str() {
        "getme" => json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Kintsugi", "username": "kintsugi_test_bot",
            "can_join_groups": false, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "has_main_web_app": false,
        }),
        "sendmessage" | "sendphoto" | "senddocument" => {
            let message_id = inner.next_message_id;
            inner.next_message_id += 1;
            body["__message_id"] = json!(message_id);
            let chat = body["chat_id"].as_i64().unwrap_or_default();
            if let Some(observer) = &shared.options.observer {
                observer(FakeEvent::Sent {
                    chat,
                    at: Instant::now(),
                });
            }
            let mut message = json!({
                "message_id": message_id,
                "date": 1_800_000_000,
                "chat": { "id": chat, "type": "private", "first_name": "Ana" },
                "from": { "id": BOT_ID, "is_bot": true, "first_name": "Kintsugi" },
            });
            let size = |field: &Value| field["__bytes"].as_array().map_or(0, Vec::len);
            match method.as_str() {
                "sendphoto" => {
                    message["photo"] = json!([{
                        "file_id": format!("photo-{message_id}"),
                        "file_unique_id": format!("unique-{message_id}"),
                        "width": 800, "height": 450, "file_size": size(&body["photo"]),
                    }]);
                }
                "senddocument" => {
                    message["document"] = json!({
                        "file_id": format!("document-{message_id}"),
                        "file_unique_id": format!("unique-{message_id}"),
                        "file_name": body["document"]["__file"].clone(),
                        "file_size": size(&body["document"]),
                    });
                }
                _ => message["text"] = body["text"].clone(),
            }
            if let Some(caption) = body["caption"].as_str() {
                message["caption"] = json!(caption);
            }
            if body.get("reply_markup").is_some() {
                message["reply_markup"] = body["reply_markup"].clone();
            }
            message
        }
        "editmessagereplymarkup" => json!({
            "message_id": body["message_id"].clone(),
            "date": 1_800_000_000,
            "chat": { "id": body["chat_id"].clone(), "type": "private", "first_name": "Ana" },
            "text": "…",
        }),
        _ => json!(true),
    };
    if shared.options.record {
        inner.requests.push(Request {
            method,
            body,
            at: Instant::now(),
        });
    }
    drop(inner);
    shared.changed.notify_all();
    (
        StatusCode::OK,
        Json(json!({ "ok": true, "result": result })),
    )
}

/// Long polling: drops what the offset acknowledges, then waits up to the request's `timeout`
/// for something new, answering the moment an update is queued.
pub(super) async fn get_updates(shared: &Shared, body: &Value) -> (StatusCode, Json<Value>) {
    let offset = body["offset"].as_i64().unwrap_or(0);
    if shared.options.record {
        let mut inner = shared.inner.lock().expect("the fake's lock");
        inner.requests.push(Request {
            method: "getupdates".to_owned(),
            body: body.clone(),
            at: Instant::now(),
        });
    }
    // Long polling as Telegram does it: wait up to `timeout` seconds for an update (none
    // given: a short wait).
    let wait = body["timeout"]
        .as_u64()
        .map_or(Duration::from_millis(500), |seconds| {
            Duration::from_secs(seconds.min(50))
        });
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Registered before looking, so an update queued in between still wakes us.
        let queued = shared.queued.notified();
        tokio::pin!(queued);
        queued.as_mut().enable();
        {
            let mut inner = shared.inner.lock().expect("the fake's lock");
            inner
                .updates
                .retain(|update| update["update_id"].as_i64().unwrap_or(0) >= offset);
            shared.changed.notify_all();
            let timed_out = tokio::time::Instant::now() >= deadline;
            if !inner.updates.is_empty() || !inner.redeliveries.is_empty() || timed_out {
                let mut updates: Vec<Value> = inner.redeliveries.drain(..).collect();
                updates.extend(inner.updates.iter().cloned());
                let newest = updates
                    .iter()
                    .filter_map(|update| update["update_id"].as_i64())
                    .max()
                    .unwrap_or(0);
                if let Some(observer) = &shared.options.observer {
                    let at = Instant::now();
                    for update in &updates {
                        let id = update["update_id"].as_i64().unwrap_or(0);
                        if id > inner.handed_out
                            && let Some(chat) = chat_of(update)
                        {
                            observer(FakeEvent::HandedOut { chat, at });
                        }
                    }
                }
                inner.handed_out = inner.handed_out.max(newest);
                return (
                    StatusCode::OK,
                    Json(json!({ "ok": true, "result": updates })),
                );
            }
        }
        let _ = tokio::time::timeout_at(deadline, queued).await;
    }
}

/// The chat an update comes from.
pub(super) fn chat_of(update: &Value) -> Option<i64> {
    update["message"]["chat"]["id"]
        .as_i64()
        .or_else(|| update["callback_query"]["message"]["chat"]["id"].as_i64())
        .or_else(|| update["my_chat_member"]["chat"]["id"].as_i64())
}
