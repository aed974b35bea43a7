//! The structured interview of guided mode: five topics, one question per turn, answers kept in the
//! idea's `interview` artifact so the next turn (in any process) carries on where this one stopped.
//!
//! The person may answer, say "skip" (the topic gets sensible defaults in the spec), or say "done"
//! (every remaining topic is skipped). An answer with nothing in it ("ok", "?") is asked again once,
//! with an example, then skipped: the interview never loops.

use serde::{Deserialize, Serialize};

use crate::words;

/// The `format` of the interview artifact.
pub const FORMAT: &str = "vibe-interview/1";

/// The longest answer kept, in characters (the rest is dropped).
const MAX_ANSWER_CHARS: usize = 2000;

/// What the interview asks about, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// The problem the app solves.
    Problem,
    /// Who uses it.
    Users,
    /// What they keep track of: the things and their details.
    Data,
    /// The pages and actions they need.
    Pages,
    /// Who may do what.
    Permissions,
}

impl Topic {
    /// Every topic, in the order asked.
    pub const ALL: [Topic; 5] = [Topic::Problem, Topic::Users, Topic::Data, Topic::Pages, Topic::Permissions];

    /// The question asked for this topic.
    pub fn question(self) -> &'static str {
        match self {
            Topic::Problem => "What problem should the app solve for you?",
            Topic::Users => "Who will use it?",
            Topic::Data => {
                "What do you need to keep track of? Name the things and their details, \
                 e.g. \"books with title, author and date read; meetings with date and host\"."
            }
            Topic::Pages => {
                "Which pages or actions do you need, e.g. \"a list of books, a calendar, a sign-up form\"?"
            }
            Topic::Permissions => {
                "Who may do what, e.g. \"I manage the books, members sign up for snacks, anyone can view\"?"
            }
        }
    }

    /// An example of an answer, for asking again after an empty one.
    fn example(self) -> &'static str {
        match self {
            Topic::Problem => "\"our team loses track of who is on call\"",
            Topic::Users => "\"me and the ten members of our club\"",
            Topic::Data => "\"books with title and author; meetings with date and host\"",
            Topic::Pages => "\"a list of books and a page to add one\"",
            Topic::Permissions => "\"I edit everything, members only add their own entries\"",
        }
    }
}

/// The answers so far, by topic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers {
    pub problem: Option<String>,
    pub users: Option<String>,
    pub data: Option<String>,
    pub pages: Option<String>,
    pub permissions: Option<String>,
}

impl Answers {
    /// The answer to `topic`.
    pub fn get(&self, topic: Topic) -> Option<&str> {
        match topic {
            Topic::Problem => self.problem.as_deref(),
            Topic::Users => self.users.as_deref(),
            Topic::Data => self.data.as_deref(),
            Topic::Pages => self.pages.as_deref(),
            Topic::Permissions => self.permissions.as_deref(),
        }
    }

    /// Sets the answer to `topic`.
    pub fn set(&mut self, topic: Topic, answer: String) {
        let slot = match topic {
            Topic::Problem => &mut self.problem,
            Topic::Users => &mut self.users,
            Topic::Data => &mut self.data,
            Topic::Pages => &mut self.pages,
            Topic::Permissions => &mut self.permissions,
        };
        *slot = Some(answer);
    }
}

/// The interview artifact (`interview`, JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interview {
    /// [`FORMAT`].
    pub format: String,
    /// The person's first message.
    #[serde(default)]
    pub opening: String,
    #[serde(default)]
    pub answers: Answers,
    /// Topics the person skipped.
    #[serde(default)]
    pub skipped: Vec<Topic>,
    /// The topic whose question awaits an answer (`None` before the first question and when complete).
    #[serde(default)]
    pub asking: Option<Topic>,
    /// Whether the question of `asking` was already asked again after an empty answer.
    #[serde(default)]
    pub reasked: bool,
    /// Every topic is answered or skipped.
    #[serde(default)]
    pub complete: bool,
    /// `guided` (the questions above) or `llm` (a model asked, and extracted the answers).
    #[serde(default = "guided")]
    pub mode: String,
}

fn guided() -> String {
    "guided".to_owned()
}

impl Default for Interview {
    fn default() -> Self {
        Interview {
            format: FORMAT.to_owned(),
            opening: String::new(),
            answers: Answers::default(),
            skipped: Vec::new(),
            asking: None,
            reasked: false,
            complete: false,
            mode: guided(),
        }
    }
}

/// What a message did to the interview.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// What to say back.
    pub reply: String,
    /// The interview just completed (or already was): summarise and hand off.
    pub finished: bool,
}

/// How a message reads as an answer.
enum Reading {
    Answer(String),
    Skip,
    Finish,
    Empty,
}

fn read(message: &str) -> Reading {
    let normal = words::normalise(message);
    const SKIP: &[&str] = &[
        "skip",
        "pass",
        "next",
        "n/a",
        "na",
        "none",
        "nothing",
        "dont know",
        "don't know",
        "idk",
        "no idea",
        "not sure",
        "i don't know",
        "i dont know",
        "skip it",
        "no",
    ];
    const FINISH: &[&str] =
        &["done", "finish", "that's all", "thats all", "that is all", "nothing else", "stop", "enough"];
    const EMPTY: &[&str] =
        &["ok", "okay", "yes", "yeah", "sure", "hmm", "hm", "maybe", "hi", "hello", "thanks"];
    if FINISH.contains(&normal.as_str()) {
        Reading::Finish
    } else if SKIP.contains(&normal.as_str()) {
        Reading::Skip
    } else if normal.chars().filter(|c| c.is_alphanumeric()).count() < 2 || EMPTY.contains(&normal.as_str()) {
        Reading::Empty
    } else {
        Reading::Answer(message.trim().chars().take(MAX_ANSWER_CHARS).collect())
    }
}

impl Interview {
    /// The topic after `asking` that is neither answered nor skipped.
    fn next_open(&self) -> Option<Topic> {
        Topic::ALL
            .into_iter()
            .find(|topic| self.answers.get(*topic).is_none() && !self.skipped.contains(topic))
    }

    /// How many topics are behind us.
    fn settled(&self) -> usize {
        Topic::ALL
            .iter()
            .filter(|topic| self.answers.get(**topic).is_some() || self.skipped.contains(topic))
            .count()
    }

    /// Asks the next open topic's question, or completes the interview.
    fn advance(&mut self, acknowledgement: &str) -> Step {
        self.reasked = false;
        match self.next_open() {
            Some(topic) => {
                self.asking = Some(topic);
                let progress = format!("({} of {})", self.settled() + 1, Topic::ALL.len());
                Step {
                    reply: format!(
                        "{acknowledgement}{progress} {} (Say \"skip\" if you are not sure, \"done\" to finish.)",
                        topic.question()
                    ),
                    finished: false,
                }
            }
            None => {
                self.asking = None;
                self.complete = true;
                Step { reply: acknowledgement.trim().to_owned(), finished: true }
            }
        }
    }

    /// Takes the person's `message`: the opening, an answer, "skip" or "done".
    pub fn take(&mut self, message: &str) -> Step {
        if self.complete {
            return Step { reply: String::new(), finished: true };
        }
        if self.asking.is_none() && !self.opening.is_empty() {
            // A model led the earlier turns and is gone: carry on with the first open topic.
            match self.next_open() {
                Some(topic) => self.asking = Some(topic),
                None => return self.advance(""),
            }
        }
        let Some(topic) = self.asking else {
            self.opening = message.trim().chars().take(MAX_ANSWER_CHARS).collect();
            // An opening that describes the idea answers the first question already.
            if let Reading::Answer(answer) = read(message)
                && words::tokens(&answer).len() >= 4
            {
                self.answers.set(Topic::Problem, answer);
                return self.advance("Thanks, that sounds like a useful app. A few questions to shape it. ");
            }
            return self.advance("Hello! Let's shape your app together, one question at a time. ");
        };
        match read(message) {
            Reading::Answer(answer) => {
                self.answers.set(topic, answer);
                self.advance("Got it. ")
            }
            Reading::Skip => {
                self.skipped.push(topic);
                self.advance("No problem, I'll pick a sensible default. ")
            }
            Reading::Finish => {
                for open in Topic::ALL {
                    if self.answers.get(open).is_none() && !self.skipped.contains(&open) {
                        self.skipped.push(open);
                    }
                }
                self.advance("Alright, I have enough to start. ")
            }
            Reading::Empty if !self.reasked => {
                self.reasked = true;
                Step {
                    reply: format!(
                        "Could you tell me a little more? {} For example: {}.",
                        topic.question(),
                        topic.example()
                    ),
                    finished: false,
                }
            }
            Reading::Empty => {
                self.skipped.push(topic);
                self.advance("Let's move on; I'll pick a sensible default. ")
            }
        }
    }

    /// Reads an interview artifact; `None` when it is not one.
    pub fn parse(content: &str) -> Option<Interview> {
        serde_json::from_str::<Interview>(content).ok().filter(|interview| interview.format == FORMAT)
    }

    /// The artifact's JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_substantial_opening_answers_the_problem_and_asks_the_next_question() {
        let mut interview = Interview::default();
        let step =
            interview.take("I want an app for my book club to track what we read and who brings snacks");
        assert!(!step.finished);
        assert_eq!(interview.asking, Some(Topic::Users));
        assert!(step.reply.contains(Topic::Users.question()), "{}", step.reply);
        assert!(step.reply.contains("(2 of 5)"), "{}", step.reply);
        assert!(interview.answers.problem.as_deref().is_some_and(|p| p.contains("book club")));
    }

    #[test]
    fn a_greeting_asks_the_first_question() {
        let mut interview = Interview::default();
        let step = interview.take("hi");
        assert_eq!(interview.asking, Some(Topic::Problem));
        assert!(step.reply.contains(Topic::Problem.question()));
    }

    #[test]
    fn skips_empty_answers_and_done_are_handled_without_looping() {
        let mut interview = Interview::default();
        interview.take("An app to plan the chores of our shared flat");
        let again = interview.take("ok");
        assert!(again.reply.contains("For example"), "{}", again.reply);
        assert_eq!(interview.asking, Some(Topic::Users), "asked again");
        interview.take("?");
        assert_eq!(interview.skipped, vec![Topic::Users], "an empty answer twice is a skip");
        assert_eq!(interview.asking, Some(Topic::Data));
        interview.take("skip");
        assert_eq!(interview.asking, Some(Topic::Pages));
        let done = interview.take("done");
        assert!(done.finished && interview.complete);
        assert_eq!(interview.skipped, vec![Topic::Users, Topic::Data, Topic::Pages, Topic::Permissions]);
        assert!(interview.take("anything").finished, "a complete interview stays complete");
    }

    #[test]
    fn the_artifact_round_trips() {
        let mut interview = Interview::default();
        interview.take("An app for tracking the books we read");
        interview.take("our club");
        let parsed = Interview::parse(&interview.to_json().to_string()).expect("parses");
        assert_eq!(parsed, interview);
        assert!(Interview::parse("{\"format\": \"other\"}").is_none());
        assert!(Interview::parse("not json").is_none());
    }
}
