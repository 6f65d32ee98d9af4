//! A portal's starting data as a JSON document: users (with the admin flag and
//! webhook secrets), tasks with chosen ids and members, chats and messages.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{ChatRec, Data, MessageRec, TaskRec, UserRec};
use crate::portal::SeedError;

/// The data a portal starts with, readable from and writable to JSON.
///
/// ```
/// use b24_emulator::{Emulator, Seed};
/// let seed = Seed::from_json(r#"{
///   "users": [{"id": 7, "name": "Ann Admin", "admin": true, "webhook": "s3cret"},
///             {"id": 8, "name": "Bob"}],
///   "tasks": [{"id": 900, "title": "Ship it", "creator": 7, "responsible": 8, "chatId": 950}],
///   "chats": [{"id": 960, "title": "Lobby", "members": [7, 8]}],
///   "messages": [{"id": 5000, "chatId": 950, "authorId": 8, "text": "Done"}]
/// }"#).unwrap();
/// let emu = Emulator::builder().seed(seed).build();
/// assert_eq!(emu.default_portal().task_chat(900), Some(950));
/// assert_eq!(emu.default_portal().webhook_secret(7).as_deref(), Some("s3cret"));
/// ```
///
/// Every list may be left out. A user without `webhook` gets a random secret; a task
/// without `chatId` gets the next free chat id. New ids continue after the highest
/// seeded one, or from `nextIds` when given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    users: Vec<SeedUser>,
    #[serde(default)]
    tasks: Vec<SeedTask>,
    #[serde(default)]
    chats: Vec<SeedChat>,
    #[serde(default)]
    messages: Vec<SeedMessage>,
    #[serde(default, rename = "nextIds", skip_serializing_if = "Option::is_none")]
    next_ids: Option<NextIds>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedUser {
    id: u64,
    name: String,
    #[serde(default)]
    admin: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gender: Option<String>,
    /// The secret of the user's webhook (random when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    webhook: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedTask {
    id: u64,
    title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    description: String,
    creator: u64,
    responsible: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    accomplices: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    auditors: Vec<u64>,
    #[serde(default, rename = "chatId", skip_serializing_if = "Option::is_none")]
    chat_id: Option<u64>,
    /// `pending` (default), `in_progress`, `supposedly_completed`, `completed`,
    /// `deferred` or `declined`.
    #[serde(default = "pending", skip_serializing_if = "is_pending")]
    status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedChat {
    id: u64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    members: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedMessage {
    id: u64,
    #[serde(rename = "chatId")]
    chat_id: u64,
    #[serde(rename = "authorId")]
    author_id: u64,
    #[serde(default)]
    text: String,
    /// Unix time sent (default: 2026-04-30T07:05:00Z, the documentation's day).
    #[serde(default = "default_date")]
    date: i64,
}

fn pending() -> String {
    "pending".to_owned()
}

#[allow(clippy::ptr_arg)]
fn is_pending(s: &String) -> bool {
    s == "pending"
}

fn default_date() -> i64 {
    SEED_DATE
}

const SEED_DATE: i64 = 1_777_529_100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NextIds {
    user: u64,
    task: u64,
    chat: u64,
    message: u64,
    result: u64,
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl Seed {
    /// Reads a seed from JSON. Unknown keys, and ids that refer to nothing, are
    /// refused.
    pub fn from_json(text: &str) -> Result<Seed, SeedError> {
        let seed: Seed =
            serde_json::from_str(text).map_err(|e| SeedError::Invalid(e.to_string()))?;
        seed.apply().map(|_| seed)
    }

    /// The seed as pretty-printed JSON (it reads back with [`Seed::from_json`]).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The data every portal starts with by default (see the crate docs), with the
    /// webhook secrets left out: each start then draws new ones.
    pub fn default_data() -> Seed {
        let mut data = Data::empty();
        crate::portal::seed_defaults(&mut data);
        let mut seed = Seed::of(&data);
        for u in &mut seed.users {
            u.webhook = None;
        }
        seed
    }

    /// The seed that rebuilds `data`'s users, tasks, chats and messages.
    pub(crate) fn of(data: &Data) -> Seed {
        let users = data
            .users
            .iter()
            .map(|(id, u)| SeedUser {
                id: *id,
                name: u.name.clone(),
                admin: u.is_admin(),
                email: Some(u.email.clone()),
                gender: Some(u.gender.clone()),
                webhook: Some(u.webhook_secret.clone()),
            })
            .collect();
        let tasks = data
            .tasks
            .values()
            .map(|t| SeedTask {
                id: t.id,
                title: t.title.clone(),
                description: t.description.clone(),
                creator: t.creator,
                responsible: t.responsible,
                accomplices: t.accomplices.clone(),
                auditors: t.auditors.clone(),
                chat_id: Some(t.chat_id),
                status: t.status.clone(),
            })
            .collect();
        let chats = data
            .chats
            .iter()
            .filter(|(_, c)| c.task_id.is_none())
            .map(|(id, c)| SeedChat {
                id: *id,
                title: c.title.clone(),
                members: c.members.clone(),
            })
            .collect();
        let messages = data
            .messages
            .values()
            .map(|m| SeedMessage {
                id: m.id,
                chat_id: m.chat_id,
                author_id: m.author_id,
                text: m.text.clone(),
                date: m.date,
            })
            .collect();
        Seed {
            users,
            tasks,
            chats,
            messages,
            next_ids: Some(NextIds {
                user: data.next_user,
                task: data.next_task,
                chat: data.next_chat,
                message: data.next_message,
                result: data.next_result,
            }),
        }
    }

    /// Builds the portal data this seed describes.
    pub(crate) fn apply(&self) -> Result<Data, SeedError> {
        let mut data = Data::empty();
        for u in &self.users {
            if u.id == 0 || data.users.contains_key(&u.id) {
                return Err(SeedError::Invalid(format!(
                    "user id {} is 0 or repeated",
                    u.id
                )));
            }
            let login = u
                .name
                .split_whitespace()
                .next()
                .unwrap_or("user")
                .to_ascii_lowercase();
            data.users.insert(
                u.id,
                UserRec {
                    name: u.name.clone(),
                    email: u
                        .email
                        .clone()
                        .unwrap_or_else(|| format!("{login}{}@example.com", u.id)),
                    gender: u.gender.clone().unwrap_or_else(|| "M".to_owned()),
                    role: if u.admin { "admin" } else { "employee" }.to_owned(),
                    webhook_secret: u
                        .webhook
                        .clone()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| crate::random::token(16)),
                },
            );
        }
        let user = |data: &Data, id: u64| {
            if data.users.contains_key(&id) {
                Ok(())
            } else {
                Err(SeedError::UnknownUser(id))
            }
        };
        for c in &self.chats {
            for m in &c.members {
                user(&data, *m)?;
            }
            if c.id == 0 || data.chats.contains_key(&c.id) {
                return Err(SeedError::Invalid(format!(
                    "chat id {} is 0 or repeated",
                    c.id
                )));
            }
            data.chats.insert(
                c.id,
                ChatRec {
                    task_id: None,
                    title: c.title.clone(),
                    members: c.members.clone(),
                },
            );
        }
        let highest_chat = |data: &Data, seed: &Seed| {
            let seeded = seed.tasks.iter().filter_map(|t| t.chat_id);
            data.chats.keys().copied().chain(seeded).max().unwrap_or(0)
        };
        let mut next_chat = (highest_chat(&data, self) + 1).max(data.next_chat);
        for t in &self.tasks {
            for m in [t.creator, t.responsible]
                .iter()
                .chain(&t.accomplices)
                .chain(&t.auditors)
            {
                user(&data, *m)?;
            }
            if !crate::model::TASK_STATUSES
                .iter()
                .any(|(name, _)| *name == t.status)
            {
                return Err(SeedError::Invalid(format!(
                    "task {} has an unknown status {:?}",
                    t.id, t.status
                )));
            }
            if t.id == 0 || data.tasks.contains_key(&t.id) {
                return Err(SeedError::Invalid(format!(
                    "task id {} is 0 or repeated",
                    t.id
                )));
            }
            let chat_id = match t.chat_id {
                Some(id) => id,
                None => {
                    let id = next_chat;
                    next_chat += 1;
                    id
                }
            };
            if chat_id == 0 || data.chats.contains_key(&chat_id) {
                return Err(SeedError::Invalid(format!(
                    "chat id {chat_id} is 0 or repeated"
                )));
            }
            data.chats.insert(
                chat_id,
                ChatRec {
                    task_id: Some(t.id),
                    title: t.title.clone(),
                    members: Vec::new(),
                },
            );
            data.tasks.insert(
                t.id,
                TaskRec {
                    id: t.id,
                    title: t.title.clone(),
                    description: t.description.clone(),
                    creator: t.creator,
                    responsible: t.responsible,
                    accomplices: t.accomplices.clone(),
                    auditors: t.auditors.clone(),
                    chat_id,
                    status: t.status.clone(),
                },
            );
        }
        for m in &self.messages {
            if !data.chats.contains_key(&m.chat_id) {
                return Err(SeedError::UnknownChat(m.chat_id));
            }
            // Author 0 is a system notice.
            if m.author_id != 0 {
                user(&data, m.author_id)?;
            }
            if m.id == 0 || data.messages.contains_key(&m.id) {
                return Err(SeedError::Invalid(format!(
                    "message id {} is 0 or repeated",
                    m.id
                )));
            }
            data.messages.insert(
                m.id,
                MessageRec {
                    id: m.id,
                    chat_id: m.chat_id,
                    author_id: m.author_id,
                    text: m.text.clone(),
                    date: m.date,
                },
            );
        }
        let after = |map_max: Option<u64>, floor: u64| {
            map_max.map_or(floor, |m| m.saturating_add(1).max(floor))
        };
        match self.next_ids {
            Some(n) => {
                data.next_user = n.user.max(after(data.users.keys().max().copied(), 1));
                data.next_task = n.task.max(after(data.tasks.keys().max().copied(), 1));
                data.next_chat = n.chat.max(after(data.chats.keys().max().copied(), 1));
                data.next_message = n.message.max(after(data.messages.keys().max().copied(), 1));
                data.next_result = n.result.max(1);
            }
            None => {
                data.next_user = after(data.users.keys().max().copied(), data.next_user);
                data.next_task = after(data.tasks.keys().max().copied(), data.next_task);
                data.next_chat = after(data.chats.keys().max().copied(), data.next_chat);
                data.next_message = after(data.messages.keys().max().copied(), data.next_message);
            }
        }
        Ok(data)
    }
}
