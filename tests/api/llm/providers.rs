//! Both providers: completions, streams and tool-call round trips, in their real wire formats.

use serde_json::{Value, json};
use sqlx::PgPool;
use vibe_host::agents::runtime::{LlmGateway, LlmToolMessage, LlmToolResult, LlmUsage};

use super::fake::{FakeProvider, INPUT_TOKENS, OUTPUT_TOKENS};
use super::{ANTHROPIC_KEY, Format, OPENAI_KEY, account, ask, ask_with_weather, config, gateway, read_all};

fn check_headers(format: Format, request: &super::fake::Recorded) {
    let header = |name: &str| request.headers.get(name).map(|value| value.to_str().unwrap().to_owned());
    match format {
        Format::Anthropic => {
            assert_eq!(request.path, "/v1/messages");
            assert_eq!(header("x-api-key").as_deref(), Some(ANTHROPIC_KEY));
            assert_eq!(header("anthropic-version").as_deref(), Some("2023-06-01"));
            assert_eq!(request.body["model"], "claude-test");
            assert_eq!(request.body["system"], "be brief");
        }
        Format::OpenAi => {
            assert_eq!(request.path, "/v1/chat/completions");
            assert_eq!(header("authorization"), Some(format!("Bearer {OPENAI_KEY}")));
            assert_eq!(request.body["model"], "gpt-test");
            assert_eq!(request.body["messages"][0], json!({"role": "system", "content": "be brief"}));
        }
    }
    assert_eq!(request.body["max_tokens"], 1000);
}

#[sqlx::test(migrations = "../migrations")]
async fn each_provider_completes_and_streams(db: PgPool) {
    for format in [Format::Anthropic, Format::OpenAi] {
        let server = FakeProvider::start().await;
        let gateway = gateway(&config(&[(format, &server)]), &db).await;
        let account = account(&db, 100).await;

        let response = gateway.complete(&account.call, ask("what is a book club?")).await.unwrap();
        assert_eq!(response.content, "answer to: what is a book club?", "{format:?}");
        assert_eq!(response.usage, LlmUsage { input_tokens: INPUT_TOKENS, output_tokens: OUTPUT_TOKENS });
        assert_eq!(response.stop_reason, "end");
        assert!(response.model.ends_with("-test"), "{}", response.model);
        let requests = server.requests();
        check_headers(format, &requests[0]);
        assert!(requests[0].body.get("stream").is_none_or(|stream| stream == &json!(false)));

        let mut stream = gateway.stream(&account.call, ask("and who brings snacks?")).await.unwrap();
        let pieces = read_all(&mut stream).await.unwrap();
        assert!(pieces.len() > 2, "streamed in pieces: {pieces:?}");
        assert_eq!(pieces.concat(), "answer to: and who brings snacks?");
        let whole = stream.finish().await.unwrap();
        assert_eq!(whole.content, pieces.concat());
        assert_eq!(whole.usage, LlmUsage { input_tokens: INPUT_TOKENS, output_tokens: OUTPUT_TOKENS });
        assert_eq!(whole.stop_reason, "end");
        let streamed = &server.requests()[1];
        check_headers(format, streamed);
        assert_eq!(streamed.body["stream"], true);
        if format == Format::OpenAi {
            assert_eq!(streamed.body["stream_options"], json!({"include_usage": true}));
        }
    }
}

/// The tool result message as the provider received it: (call id, content).
fn tool_result_sent(format: Format, body: &Value) -> (String, String) {
    let messages = body["messages"].as_array().unwrap();
    let last = messages.last().unwrap();
    match format {
        Format::Anthropic => {
            assert_eq!(last["role"], "user");
            let block = &last["content"][0];
            assert_eq!(block["type"], "tool_result");
            let call = &messages[messages.len() - 2]["content"];
            assert!(call.as_array().unwrap().iter().any(|block| block["type"] == "tool_use"), "{call}");
            (block["tool_use_id"].as_str().unwrap().to_owned(), block["content"].as_str().unwrap().to_owned())
        }
        Format::OpenAi => {
            assert_eq!(last["role"], "tool");
            let assistant = &messages[messages.len() - 2];
            assert_eq!(assistant["tool_calls"][0]["type"], "function");
            (last["tool_call_id"].as_str().unwrap().to_owned(), last["content"].as_str().unwrap().to_owned())
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn each_provider_round_trips_a_streamed_tool_call(db: PgPool) {
    for format in [Format::Anthropic, Format::OpenAi] {
        let server = FakeProvider::start().await;
        let gateway = gateway(&config(&[(format, &server)]), &db).await;
        let account = account(&db, 100).await;

        let mut request = ask_with_weather("Paris");
        let mut stream = gateway.stream_with_tools(&account.call, request.clone()).await.unwrap();
        let asked = stream.finish_with_tools().await.unwrap();
        assert_eq!(asked.stop_reason, "tool-use", "{format:?}");
        assert_eq!(asked.tool_calls.len(), 1);
        let call = &asked.tool_calls[0];
        assert_eq!(call.name, "weather");
        assert_eq!(serde_json::from_str::<Value>(&call.arguments).unwrap(), json!({"q": "Paris"}));
        let sent_tools = &server.requests()[0].body["tools"][0];
        match format {
            Format::Anthropic => assert_eq!(sent_tools["input_schema"]["required"], json!(["q"])),
            Format::OpenAi => assert_eq!(sent_tools["function"]["parameters"]["required"], json!(["q"])),
        }

        request.messages.push(LlmToolMessage::Assistant {
            content: asked.content.clone(),
            tool_calls: asked.tool_calls.clone(),
        });
        request.messages.push(LlmToolMessage::ToolResults {
            results: vec![LlmToolResult {
                call_id: call.id.clone(),
                content: "sunny".to_owned(),
                is_error: false,
            }],
        });
        let mut stream = gateway.stream_with_tools(&account.call, request.clone()).await.unwrap();
        let pieces = read_all(&mut stream).await.unwrap();
        let answer = stream.finish_with_tools().await.unwrap();
        assert_eq!(pieces.concat(), "tool said: sunny");
        assert_eq!(answer.content, "tool said: sunny");
        assert!(answer.tool_calls.is_empty());
        assert_eq!(
            tool_result_sent(format, &server.requests()[1].body),
            (call.id.clone(), "sunny".to_owned())
        );

        // The same round trip without streaming.
        let asked = gateway.complete_with_tools(&account.call, ask_with_weather("Rome")).await.unwrap();
        assert_eq!(asked.stop_reason, "tool-use");
        assert_eq!(
            serde_json::from_str::<Value>(&asked.tool_calls[0].arguments).unwrap(),
            json!({"q": "Rome"})
        );
        assert_eq!(super::calls(&db, account.call.session_id).await.len(), 3, "every call is recorded");
    }
}
