//! The portal's data: users, tasks, chats, messages and task results.

use std::collections::BTreeMap;

/// A user of a portal.
#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) gender: String,
    pub(crate) role: String,
    pub(crate) webhook_secret: String,
}

/// A task and who may see it.
#[derive(Debug, Clone)]
pub(crate) struct TaskRec {
    pub(crate) id: u64,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) creator: u64,
    pub(crate) responsible: u64,
    pub(crate) accomplices: Vec<u64>,
    pub(crate) auditors: Vec<u64>,
    pub(crate) chat_id: u64,
    /// The REST 3.0 status: `pending`, `in_progress`, `supposedly_completed`,
    /// `completed`, `deferred` or `declined`.
    pub(crate) status: String,
}

impl UserRec {
    /// An administrator of the portal.
    pub(crate) fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// The task statuses of REST 3.0, with their classic numbers.
pub(crate) const TASK_STATUSES: &[(&str, &str)] = &[
    ("pending", "2"),
    ("in_progress", "3"),
    ("supposedly_completed", "4"),
    ("completed", "5"),
    ("deferred", "6"),
    ("declined", "7"),
];

impl TaskRec {
    /// True once the task is completed.
    pub(crate) fn is_completed(&self) -> bool {
        self.status == "completed"
    }

    /// Whoever is a member (creator, responsible, accomplice, auditor) has access.
    pub(crate) fn is_member(&self, user: u64) -> bool {
        self.creator == user
            || self.responsible == user
            || self.accomplices.contains(&user)
            || self.auditors.contains(&user)
    }
}

/// A chat: a task's chat or a plain group chat.
#[derive(Debug, Clone)]
pub(crate) struct ChatRec {
    /// The task this chat belongs to; `None` for a plain chat.
    pub(crate) task_id: Option<u64>,
    /// The chat's title.
    pub(crate) title: String,
    /// Members of a plain chat (a task chat's members are the task's members).
    pub(crate) members: Vec<u64>,
}

/// A chat message.
#[derive(Debug, Clone)]
pub(crate) struct MessageRec {
    pub(crate) id: u64,
    pub(crate) chat_id: u64,
    pub(crate) author_id: u64,
    pub(crate) text: String,
    pub(crate) date: i64,
}

/// A task result.
#[derive(Debug, Clone)]
pub(crate) struct ResultRec {
    pub(crate) id: u64,
    pub(crate) task_id: u64,
    pub(crate) text: String,
    pub(crate) author_id: u64,
    pub(crate) created_at: i64,
    pub(crate) updated_at: Option<i64>,
    pub(crate) message_id: Option<u64>,
    pub(crate) closed: bool,
    pub(crate) file_ids: Vec<u64>,
}

/// Everything a portal stores.
#[derive(Debug, Default)]
pub(crate) struct Data {
    pub(crate) users: BTreeMap<u64, UserRec>,
    pub(crate) tasks: BTreeMap<u64, TaskRec>,
    pub(crate) chats: BTreeMap<u64, ChatRec>,
    pub(crate) messages: BTreeMap<u64, MessageRec>,
    pub(crate) results: BTreeMap<u64, ResultRec>,
    /// Event bindings, queued deliveries and the offline queue.
    pub(crate) events: crate::events::EventState,
    pub(crate) next_user: u64,
    pub(crate) next_task: u64,
    pub(crate) next_chat: u64,
    pub(crate) next_message: u64,
    pub(crate) next_result: u64,
}

impl Data {
    /// An empty portal whose id counters start where the documentation's examples do.
    pub(crate) fn empty() -> Self {
        Self {
            next_user: 1,
            next_task: 51,
            next_chat: 58,
            next_message: 34239,
            next_result: 17,
            ..Self::default()
        }
    }

    /// Can `user` read the chat?
    pub(crate) fn chat_member(&self, chat: &ChatRec, user: u64) -> bool {
        match chat.task_id {
            Some(task) => self.tasks.get(&task).is_some_and(|t| t.is_member(user)),
            None => chat.members.contains(&user),
        }
    }

    /// Completes a task: it and its results close (results stay closed if the task
    /// is resumed). False when there is no such task.
    pub(crate) fn complete_task(&mut self, task_id: u64) -> bool {
        let Some(task) = self.tasks.get_mut(&task_id) else {
            return false;
        };
        task.status = "completed".to_owned();
        for r in self.results.values_mut().filter(|r| r.task_id == task_id) {
            r.closed = true;
        }
        true
    }

    pub(crate) fn take_message_id(&mut self) -> u64 {
        let id = self.next_message;
        self.next_message += 1;
        id
    }
}
