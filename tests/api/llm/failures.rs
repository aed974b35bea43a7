//! Providers failing: fallback on 429, 5xx and timeouts (after a retry), none on another 4xx,
//! none once a stream has sent text, and answers that break the wire format.

use serde_json::json;
use sqlx::PgPool;
use vibe_host::agents::runtime::{LlmError, LlmGateway};

use super::fake::{
    FakeProvider, Reply, anthropic_end, anthropic_frame, anthropic_frames, openai_end, openai_frames,
};
use super::{Format, account, ask, ask_with_weather, calls, config, gateway, read_all};

fn status(status: u16, retry_after: Option<u64>) -> Reply {
    Reply::Status { status, message: format!("scripted {status}"), retry_after }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failing_provider_is_retried_then_the_next_one_answers(db: PgPool) {
    for failure in [status(429, Some(0)), status(500, None), status(529, None), Reply::Hang] {
        let primary = FakeProvider::start().await;
        let secondary = FakeProvider::start().await;
        // One retry: two failures before falling back.
        primary.push(failure.clone());
        primary.push(failure.clone());
        let gateway =
            gateway(&config(&[(Format::Anthropic, &primary), (Format::OpenAi, &secondary)]), &db).await;
        let account = account(&db, 100).await;

        let response = gateway.complete(&account.call, ask("hello")).await.unwrap();
        assert_eq!(response.content, "answer to: hello", "after {failure:?}");
        assert_eq!(response.model, "gpt-test");
        assert_eq!(primary.requests().len(), 2, "tried and retried once: {failure:?}");
        assert_eq!(secondary.requests().len(), 1);
        assert_eq!(calls(&db, account.call.session_id).await, vec![("ok".to_owned(), 3)]);
    }

    // Streams fall back the same way before any text was sent.
    let primary = FakeProvider::start().await;
    let secondary = FakeProvider::start().await;
    primary.push(status(503, None));
    primary.push(status(503, None));
    let gateway = gateway(&config(&[(Format::OpenAi, &primary), (Format::Anthropic, &secondary)]), &db).await;
    let account = account(&db, 100).await;
    let mut stream = gateway.stream(&account.call, ask("hi")).await.unwrap();
    assert_eq!(read_all(&mut stream).await.unwrap().concat(), "answer to: hi");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_request_is_neither_retried_nor_sent_elsewhere(db: PgPool) {
    let primary = FakeProvider::start().await;
    let secondary = FakeProvider::start().await;
    primary.push(status(400, None));
    let gateway = gateway(&config(&[(Format::OpenAi, &primary), (Format::Anthropic, &secondary)]), &db).await;
    let account = account(&db, 100).await;

    let error = gateway.complete(&account.call, ask("hello")).await.unwrap_err();
    let LlmError::Provider(message) = &error else { panic!("{error:?}") };
    assert!(message.contains("HTTP 400") && message.contains("scripted 400"), "{message}");
    assert_eq!(primary.requests().len(), 1);
    assert_eq!(secondary.requests().len(), 0);
    assert_eq!(calls(&db, account.call.session_id).await, vec![("failed".to_owned(), 0)]);
}

#[sqlx::test(migrations = "../migrations")]
async fn every_provider_over_its_rate_limit_is_a_rate_limit(db: PgPool) {
    let primary = FakeProvider::start().await;
    let secondary = FakeProvider::start().await;
    for _ in 0..2 {
        primary.push(status(429, Some(0)));
        secondary.push(status(429, Some(0)));
    }
    let gateway = gateway(&config(&[(Format::Anthropic, &primary), (Format::OpenAi, &secondary)]), &db).await;
    let account = account(&db, 100).await;
    let error = gateway.complete(&account.call, ask("hello")).await.unwrap_err();
    assert!(matches!(error, LlmError::RateLimited(_)), "{error:?}");
    assert_eq!((primary.requests().len(), secondary.requests().len()), (2, 2));
}

#[sqlx::test(migrations = "../migrations")]
async fn broken_answers_are_clean_errors(db: PgPool) {
    let account = account(&db, 100).await;
    let expect_provider_error = |error: LlmError, needle: &str| {
        let LlmError::Provider(message) = &error else { panic!("{error:?}") };
        assert!(message.contains(needle), "{message} should mention {needle}");
    };

    // Garbage JSON, for both formats; not retried, not sent elsewhere.
    for format in [Format::Anthropic, Format::OpenAi] {
        let server = FakeProvider::start().await;
        let other = FakeProvider::start().await;
        server.push(Reply::RawJson("{\"id\": \"msg_01\", \"content\": [tr".to_owned()));
        let second = if format == Format::Anthropic { Format::OpenAi } else { Format::Anthropic };
        let gateway = gateway(&config(&[(format, &server), (second, &other)]), &db).await;
        let error = gateway.complete(&account.call, ask("hello")).await.unwrap_err();
        expect_provider_error(error, "malformed");
        assert_eq!((server.requests().len(), other.requests().len()), (1, 0));
    }

    // A stream cut before its end, after text reached the agent: an error, no fallback.
    let server = FakeProvider::start().await;
    let other = FakeProvider::start().await;
    server.push(Reply::RawSse(anthropic_frames("half an answer", None)));
    let gateway_ = gateway(&config(&[(Format::Anthropic, &server), (Format::OpenAi, &other)]), &db).await;
    let mut stream = gateway_.stream(&account.call, ask("hello")).await.unwrap();
    let first = stream.next().await.unwrap();
    assert!(first.is_some(), "text arrives before the cut");
    let error = read_all(&mut stream).await.unwrap_err();
    expect_provider_error(error, "ended before the answer was complete");
    assert!(stream.finish().await.is_err(), "the stream stays failed");
    assert_eq!(other.requests().len(), 0, "no fallback once text was sent");

    // An event that is not JSON.
    let server = FakeProvider::start().await;
    server.push(Reply::RawSse(vec![
        anthropic_frame(json!({"type": "message_start", "message": {"model": "claude-test", "usage": {"input_tokens": 5}}})),
        "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_de\n\n".to_owned(),
    ]));
    let gateway_ = gateway(&config(&[(Format::Anthropic, &server)]), &db).await;
    let mut stream = gateway_.stream(&account.call, ask("hello")).await.unwrap();
    expect_provider_error(read_all(&mut stream).await.unwrap_err(), "malformed");

    // A provider stream error event.
    let server = FakeProvider::start().await;
    let mut frames = anthropic_frames("partial", None);
    frames.push(anthropic_frame(
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    server.push(Reply::RawSse(frames));
    let gateway_ = gateway(&config(&[(Format::Anthropic, &server)]), &db).await;
    let mut stream = gateway_.stream(&account.call, ask("hello")).await.unwrap();
    expect_provider_error(read_all(&mut stream).await.unwrap_err(), "Overloaded");

    // Broken streamed tool calls: arguments that never close (OpenAI), a stop before they do
    // (Anthropic).
    let server = FakeProvider::start().await;
    let mut frames = openai_frames("", Some(("weather", &["{\"q\": \"Par"])));
    frames.extend(openai_end());
    server.push(Reply::RawSse(frames));
    let gateway_ = gateway(&config(&[(Format::OpenAi, &server)]), &db).await;
    let mut stream = gateway_.stream_with_tools(&account.call, ask_with_weather("Paris")).await.unwrap();
    expect_provider_error(stream.finish_with_tools().await.unwrap_err(), "broken arguments");

    let server = FakeProvider::start().await;
    let mut frames = anthropic_frames("", Some(("weather", &["{\"q\": ", "\"Par"])));
    frames.extend(anthropic_end("tool_use"));
    server.push(Reply::RawSse(frames));
    let gateway_ = gateway(&config(&[(Format::Anthropic, &server)]), &db).await;
    let mut stream = gateway_.stream_with_tools(&account.call, ask_with_weather("Paris")).await.unwrap();
    expect_provider_error(stream.finish_with_tools().await.unwrap_err(), "broken arguments");

    // A tool call without a name (OpenAI pieces for an index never started).
    let server = FakeProvider::start().await;
    let mut frames = vec![super::fake::openai_frame(
        json!({"tool_calls": [{"index": 3, "function": {"arguments": "{}"}}]}),
        None,
    )];
    frames.push(super::fake::openai_frame(json!({}), Some("tool_calls")));
    frames.extend(openai_end());
    server.push(Reply::RawSse(frames));
    let gateway_ = gateway(&config(&[(Format::OpenAi, &server)]), &db).await;
    let mut stream = gateway_.stream_with_tools(&account.call, ask_with_weather("Paris")).await.unwrap();
    expect_provider_error(stream.finish_with_tools().await.unwrap_err(), "without an id or a name");

    // Every one of these calls is recorded as failed; the ones that streamed text are billed for it.
    let recorded = calls(&db, account.call.session_id).await;
    assert_eq!(recorded.len(), 8);
    assert!(recorded.iter().all(|(outcome, _)| outcome == "failed"), "{recorded:?}");
}
