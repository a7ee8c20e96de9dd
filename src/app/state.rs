//! Everything the UI draws, and how each [`Event`] changes it. No egui here.

use sixchat_proto::TrustLevel;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::event::{
    ChatMessage, ContactInfo, DeliveryState, DialStage, Event, Failure, IdentityInfo, IncomingChat,
    Listing, MailEvent, MailFolder, MailOpened, MailSummary, Notice, OfferInfo, PeerCard, Presence,
    QueueRow, Task, TrustInfo,
};

/// How long a "typing" indicator lasts without news (the peer re-sends it).
pub const TYPING_TTL: Duration = Duration::from_secs(6);

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Starting,
    Wizard,
    Locked {
        user_id: String,
        name: String,
    },
    Ready,
}

/// One conversation's messages, in order, with an index by id.
#[derive(Debug, Default)]
pub struct Conversation {
    pub messages: Vec<ChatMessage>,
    index: HashMap<String, usize>,
    pub loaded: bool,
    /// Bumped on every change (the UI's layout caches key on it).
    pub version: u64,
}

impl Conversation {
    pub fn from_messages(messages: Vec<ChatMessage>) -> Self {
        let mut conversation = Self {
            loaded: true,
            ..Self::default()
        };
        for message in messages {
            conversation.push(message);
        }
        conversation
    }

    /// Appends a message; one already there (by id and direction) is not
    /// added twice. Returns whether it was added.
    pub fn push(&mut self, message: ChatMessage) -> bool {
        let key = Self::key(&message.id, message.outgoing);
        if self.index.contains_key(&key) {
            return false;
        }
        self.index.insert(key, self.messages.len());
        self.messages.push(message);
        self.version += 1;
        true
    }

    fn key(id: &str, outgoing: bool) -> String {
        format!("{}{id}", if outgoing { '>' } else { '<' })
    }

    /// Moves an outgoing message forward (never back: a late "sent" does not undo "read").
    pub fn advance(&mut self, id: &str, state: DeliveryState) {
        let Some(&at) = self.index.get(&Self::key(id, true)) else {
            return;
        };
        let message = &mut self.messages[at];
        if rank(state) > rank(message.state) {
            message.state = state;
            self.version += 1;
        }
    }
}

fn rank(state: DeliveryState) -> u8 {
    match state {
        DeliveryState::Queued => 0,
        DeliveryState::Sent => 1,
        DeliveryState::Delivered => 2,
        DeliveryState::Read => 3,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkInfo {
    pub listening: Option<String>,
    /// Where others can reach this agent.
    pub reachable: Vec<String>,
    pub registered: Vec<String>,
    pub dir_problem: Option<String>,
}

/// A message that arrived, for a desktop notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub user_id: String,
    pub text: String,
}

#[derive(Debug, Default)]
pub struct AppState {
    pub phase: Phase,
    pub busy: Option<Task>,
    /// The last failure, until a retry; the view hides it once dismissed.
    pub failure: Option<(Option<Task>, Failure)>,
    /// Counts failures, so the view can tell a new one from one it dismissed.
    pub failure_count: u64,
    pub identity: Option<IdentityInfo>,
    pub contacts: Vec<ContactInfo>,
    pub trust: TrustInfo,
    pub conversations: HashMap<String, Conversation>,
    /// Who is typing, until when.
    pub typing: HashMap<String, Instant>,
    /// The live session's card per peer (trust badge in the conversation header).
    pub cards: HashMap<String, PeerCard>,
    /// How far each dial the person started (or a dialled session) got,
    /// by peer: what "Connect to User" shows.
    pub dials: HashMap<String, DialStage>,
    /// "Incoming Chat" requests, oldest first.
    pub incoming: Vec<IncomingChat>,
    /// Peers of dialled sessions whose person has not accepted yet.
    pub awaiting: HashSet<String>,
    pub network: NetworkInfo,
    /// The commander's listings, the queue and the offers waiting.
    pub files: FilesState,
    /// The Mail screen's folder listing and open mail.
    pub mail: MailState,
}

/// What the Mail screen draws.
#[derive(Debug, Default)]
pub struct MailState {
    /// The folder listed, and its mail.
    pub listed: Option<(MailFolder, Vec<MailSummary>)>,
    pub opened: Option<MailOpened>,
    /// The last mail sent (the compose window closes on it).
    pub sent: Option<i64>,
    /// Why the last send failed (the compose window says it).
    pub not_sent: Option<String>,
}

impl MailState {
    fn apply(&mut self, event: MailEvent) {
        match event {
            MailEvent::Listed { folder, rows } => self.listed = Some((folder, rows)),
            MailEvent::Opened(opened) => {
                if let Some((_, rows)) = &mut self.listed {
                    if let Some(row) = rows.iter_mut().find(|r| r.id == opened.id) {
                        row.unread = false;
                    }
                }
                self.opened = Some(*opened);
            }
            MailEvent::Sent { id } => {
                self.sent = Some(id);
                self.not_sent = None;
            }
            MailEvent::NotSent { reason } => self.not_sent = Some(reason),
        }
    }
}

/// What the commander and the queue panel draw.
#[derive(Debug, Default)]
pub struct FilesState {
    pub local: Option<Listing>,
    /// The peer whose share is listed, and the listing.
    pub remote: Option<(String, Listing)>,
    pub queue: Vec<QueueRow>,
    /// Contacts' offers waiting for the person, oldest first.
    pub offers: Vec<OfferInfo>,
}

/// What an event raises for the view besides changing the state: a
/// message for a desktop notification, or a notice for a toast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raised {
    Arrival(Arrival),
    Notice(Notice),
}

impl AppState {
    /// Applies `event`. `open` is the conversation the person has open
    /// (its messages do not count as unread).
    #[allow(clippy::too_many_lines)] // one arm per event, each a line or two
    pub fn apply(&mut self, event: Event, open: Option<&str>) -> Option<Raised> {
        match event {
            Event::NeedsIdentity => self.phase = Phase::Wizard,
            Event::Locked { user_id, name } => self.phase = Phase::Locked { user_id, name },
            Event::Busy(task) => {
                self.busy = task;
                if task.is_some() {
                    self.failure = None;
                }
            }
            Event::Failed { task, failure } => {
                self.failure = Some((task, failure));
                self.failure_count += 1;
            }
            Event::Ready {
                identity,
                contacts,
                trust,
            } => {
                self.phase = Phase::Ready;
                self.failure = None;
                self.identity = Some(identity);
                self.contacts = contacts;
                self.trust = trust;
            }
            Event::Identity(identity) => self.identity = Some(identity),
            Event::Contacts(contacts) => self.set_contacts(contacts),
            Event::Trust(trust) => self.trust = trust,
            Event::History { user_id, messages } => {
                self.conversations
                    .insert(user_id, Conversation::from_messages(messages));
            }
            Event::Message { user_id, message } => {
                return self.on_message(user_id, message, open).map(Raised::Arrival);
            }
            Event::Delivery { user_id, id, state } => {
                if let Some(conversation) = self.conversations.get_mut(&user_id) {
                    conversation.advance(&id, state);
                }
            }
            event @ (Event::Typing { .. }
            | Event::Presence { .. }
            | Event::SessionStarted { .. }
            | Event::SessionConfirmed { .. }
            | Event::PeerAccepted { .. }
            | Event::SessionEnded { .. }
            | Event::DialStarted { .. }
            | Event::Dial { .. }
            | Event::Incoming(_)
            | Event::IncomingGone { .. }) => self.on_peer(event),
            Event::Network {
                listening,
                reachable,
                registered,
                dir_problem,
            } => {
                self.network = NetworkInfo {
                    listening,
                    reachable,
                    registered,
                    dir_problem,
                };
            }
            Event::Notice(notice) => {
                if let Notice::Pinned { user_id } = &notice {
                    self.mark_pinned(user_id);
                }
                return Some(Raised::Notice(notice));
            }
            Event::LocalListing(listing) => self.files.local = Some(listing),
            Event::RemoteListing { user_id, listing } => {
                self.files.remote = Some((user_id, listing));
            }
            Event::Queue(rows) => self.files.queue = rows,
            Event::Mail(event) => self.mail.apply(event),
            Event::Offer(offer) => {
                if !self
                    .files
                    .offers
                    .iter()
                    .any(|o| o.transfer == offer.transfer)
                {
                    self.files.offers.push(offer);
                }
            }
            Event::OfferGone { transfer } => {
                self.files.offers.retain(|o| o.transfer != transfer);
            }
        }
        None
    }

    /// What peers do: typing, presence, sessions, dials and Incoming Chat
    /// requests.
    fn on_peer(&mut self, event: Event) {
        match event {
            Event::Typing { user_id, active } => {
                if active {
                    self.typing.insert(user_id, Instant::now() + TYPING_TTL);
                } else {
                    self.typing.remove(&user_id);
                }
            }
            Event::Presence {
                user_id,
                presence,
                last_seen_unix,
            } => {
                if let Some(contact) = self.contacts.iter_mut().find(|c| c.user_id == user_id) {
                    contact.presence = presence;
                    if last_seen_unix.is_some() {
                        contact.last_seen_unix = last_seen_unix;
                    }
                }
                if presence != Presence::Online {
                    self.cards.remove(&user_id);
                    self.typing.remove(&user_id);
                }
            }
            Event::SessionStarted { card, inbound } => {
                // Connect to User shows the session this side dialled (an
                // inbound one with the same peer does not take its place).
                let user_id = card.peer.to_string();
                if !inbound {
                    self.dials
                        .insert(user_id.clone(), DialStage::Connected(card.clone()));
                }
                if inbound {
                    self.awaiting.remove(&user_id);
                } else {
                    self.awaiting.insert(user_id.clone());
                }
                self.cards.insert(user_id, card);
            }
            Event::SessionConfirmed { user_id, pinned } => {
                let confirm = |card: &mut PeerCard| {
                    if card.peer.as_str() == user_id {
                        card.confirmed = true;
                        if pinned && card.level == TrustLevel::New {
                            card.level = TrustLevel::Known;
                        }
                    }
                };
                self.cards.values_mut().for_each(confirm);
                if let Some(DialStage::Connected(card)) = self.dials.get_mut(&user_id) {
                    confirm(card);
                }
            }
            Event::PeerAccepted { user_id } => {
                self.awaiting.remove(&user_id);
            }
            Event::SessionEnded { user_id, reason } => {
                let was_awaiting = self.awaiting.remove(&user_id);
                // A dial whose peer declined (or that was never accepted)
                // says so in "Connect to User".
                if let Some(stage) = self.dials.get_mut(&user_id) {
                    let undecided = matches!(stage, DialStage::Connected(card) if !card.confirmed || was_awaiting);
                    if undecided {
                        *stage = DialStage::Failed(Failure::Refused(reason));
                    }
                }
            }
            Event::DialStarted { user_id } => {
                self.dials.insert(user_id, DialStage::LookingUp);
            }
            Event::Dial { user_id, stage } => {
                // A late report does not undo the session it led to.
                let current = self.dials.entry(user_id).or_insert(DialStage::LookingUp);
                if !matches!(current, DialStage::Connected(_)) {
                    *current = stage;
                }
            }
            Event::Incoming(request) => self.incoming.push(request),
            Event::IncomingGone { request } => self.incoming.retain(|r| r.request != request),
            _ => {}
        }
    }

    fn set_contacts(&mut self, contacts: Vec<ContactInfo>) {
        // Presence learnt from events stays until newer news.
        let known: HashMap<String, Presence> = self
            .contacts
            .iter()
            .map(|c| (c.user_id.clone(), c.presence))
            .collect();
        self.contacts = contacts;
        for contact in &mut self.contacts {
            if contact.presence == Presence::Unknown {
                contact.presence = known.get(&contact.user_id).copied().unwrap_or_default();
            }
        }
    }

    fn on_message(
        &mut self,
        user_id: String,
        message: ChatMessage,
        open: Option<&str>,
    ) -> Option<Arrival> {
        let incoming = (!message.outgoing).then(|| message.text.clone());
        let added = self
            .conversations
            .entry(user_id.clone())
            .or_default()
            .push(message);
        let text = incoming.filter(|_| added)?;
        self.typing.remove(&user_id);
        if open != Some(user_id.as_str()) {
            if let Some(contact) = self.contacts.iter_mut().find(|c| c.user_id == user_id) {
                contact.unread += 1;
            }
        }
        Some(Arrival { user_id, text })
    }

    fn mark_pinned(&mut self, user_id: &str) {
        let pin = |card: &mut PeerCard| {
            if card.peer.as_str() == user_id && card.level == TrustLevel::New {
                card.level = TrustLevel::Known;
            }
        };
        self.cards.values_mut().for_each(pin);
        if let Some(DialStage::Connected(card)) = self.dials.get_mut(user_id) {
            pin(card);
        }
        self.incoming.iter_mut().for_each(|r| pin(&mut r.card));
    }

    /// Unread messages over all contacts (for the window title).
    pub fn unread_total(&self) -> usize {
        self.contacts.iter().map(|c| c.unread).sum()
    }

    /// Whether `user_id` is typing now.
    pub fn is_typing(&self, user_id: &str, now: Instant) -> bool {
        self.typing.get(user_id).is_some_and(|until| *until > now)
    }

    pub fn contact(&self, user_id: &str) -> Option<&ContactInfo> {
        self.contacts.iter().find(|c| c.user_id == user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(id: &str, state: DeliveryState) -> ChatMessage {
        ChatMessage {
            id: id.into(),
            outgoing: true,
            sent_unix: 0,
            text: "hi".into(),
            state,
        }
    }

    #[test]
    fn delivery_only_moves_forward() {
        let mut state = AppState::default();
        state.apply(
            Event::Message {
                user_id: "b@x.org".into(),
                message: out("1", DeliveryState::Queued),
            },
            None,
        );
        for (s, want) in [
            (DeliveryState::Delivered, DeliveryState::Delivered),
            (DeliveryState::Sent, DeliveryState::Delivered),
            (DeliveryState::Read, DeliveryState::Read),
        ] {
            state.apply(
                Event::Delivery {
                    user_id: "b@x.org".into(),
                    id: "1".into(),
                    state: s,
                },
                None,
            );
            assert_eq!(state.conversations["b@x.org"].messages[0].state, want);
        }
    }

    #[test]
    fn a_message_from_another_conversation_counts_as_unread_once() {
        let mut state = AppState::default();
        state.contacts.push(ContactInfo {
            user_id: "b@x.org".into(),
            name: "Bob".into(),
            always_accept: false,
            last_seen_unix: None,
            unread: 0,
            presence: Presence::Unknown,
            address: None,
        });
        let incoming = ChatMessage {
            outgoing: false,
            ..out("9", DeliveryState::Delivered)
        };
        let mut arrivals = 0;
        for _ in 0..2 {
            let raised = state.apply(
                Event::Message {
                    user_id: "b@x.org".into(),
                    message: incoming.clone(),
                },
                Some("c@x.org"),
            );
            arrivals += usize::from(matches!(raised, Some(Raised::Arrival(_))));
        }
        assert_eq!(state.conversations["b@x.org"].messages.len(), 1);
        assert_eq!(state.unread_total(), 1);
        assert_eq!(arrivals, 1, "one notification");
        // In the open conversation a message is not unread.
        state.apply(
            Event::Message {
                user_id: "b@x.org".into(),
                message: ChatMessage {
                    outgoing: false,
                    ..out("10", DeliveryState::Delivered)
                },
            },
            Some("b@x.org"),
        );
        assert_eq!(state.unread_total(), 1);
    }
}
