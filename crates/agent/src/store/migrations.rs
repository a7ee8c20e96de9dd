//! The store's schema, one step per version (run by `sixchat_host::migrate`).

/// Each migration takes the schema from version `index` to `index + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    "CREATE TABLE messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        peer TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        id TEXT NOT NULL,
        sent TEXT NOT NULL,
        stored_at INTEGER NOT NULL,
        state TEXT NOT NULL,
        body TEXT NOT NULL,
        UNIQUE (peer, direction, id)
     );
     CREATE INDEX messages_outbox ON messages (peer, direction, state);
     CREATE TABLE trust_roots (domain TEXT NOT NULL, der BLOB NOT NULL, fingerprint TEXT NOT NULL, PRIMARY KEY (domain, fingerprint));
     CREATE TABLE pins (user_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL);
     CREATE TABLE peers (user_id TEXT PRIMARY KEY, last_addr TEXT, last_seen INTEGER);",
    // Version 2: the DIR of each domain the profile enrolled with, CRLs, the
    // last address registration, and which outgoing messages were left in a
    // peer's DIR store.
    "CREATE TABLE dirs (domain TEXT PRIMARY KEY, address TEXT NOT NULL, root_der BLOB NOT NULL);
     CREATE TABLE crls (domain TEXT PRIMARY KEY, der BLOB NOT NULL, fetched INTEGER NOT NULL);
     CREATE TABLE registration (id INTEGER PRIMARY KEY CHECK (id = 1), sequence INTEGER NOT NULL, addresses TEXT NOT NULL, expires INTEGER NOT NULL);
     ALTER TABLE messages ADD COLUMN relayed_at INTEGER;",
    // Version 3: the desktop app's contacts and settings, and which incoming
    // messages the person has seen (earlier ones count as seen).
    "CREATE TABLE contacts (user_id TEXT PRIMARY KEY, name TEXT NOT NULL, added_at INTEGER NOT NULL, always_accept INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     ALTER TABLE messages ADD COLUMN seen INTEGER NOT NULL DEFAULT 1;
     CREATE INDEX messages_unseen ON messages (peer) WHERE direction = 'in' AND seen = 0;",
    // Version 4: the highest address-record sequence seen per peer and the
    // certificate it came with (irp.md: an older record is a replay).
    "ALTER TABLE peers ADD COLUMN record_sequence INTEGER;
     ALTER TABLE peers ADD COLUMN record_cert TEXT;",
    // Version 5: file transfers (docs/transfer.md): which contacts' offers
    // are accepted unasked, and the queue of sends and gets (each kept
    // until the person clears it; a waiting one starts when its peer is
    // reachable).
    "CREATE TABLE file_auto_accept (user_id TEXT PRIMARY KEY);
     CREATE TABLE transfers (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        peer TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('send', 'get')),
        sources TEXT NOT NULL,
        target TEXT NOT NULL,
        addr TEXT,
        state TEXT NOT NULL,
        files INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        verified INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL
     );
     CREATE INDEX transfers_waiting ON transfers (state, peer);",
    // Version 6: what a get does with a name taken by other content
    // (docs/transfer.md, "Name conflicts").
    "ALTER TABLE transfers ADD COLUMN on_conflict TEXT NOT NULL DEFAULT 'rename';",
    // Version 7: mail (docs/mail.md). Each message kept verbatim as it came
    // or went (`raw`); what reading it found is an index beside it (filled
    // once it was read, so storing never waits on a decryption); full-text
    // search over sender, subject and body; each recipient's delivery.
    "CREATE TABLE mail (
        id INTEGER PRIMARY KEY,
        folder TEXT NOT NULL CHECK (folder IN ('inbox', 'sent', 'drafts', 'trash')),
        raw BLOB NOT NULL,
        digest BLOB NOT NULL,
        came_from TEXT,
        received INTEGER NOT NULL,
        unread INTEGER NOT NULL DEFAULT 1,
        indexed INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT '',
        sender TEXT NOT NULL DEFAULT '',
        recipients TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        sent_at INTEGER,
        message_id TEXT,
        body TEXT NOT NULL DEFAULT '',
        attachments INTEGER NOT NULL DEFAULT 0
     );
     CREATE UNIQUE INDEX mail_copy ON mail (digest, folder);
     CREATE INDEX mail_folder ON mail (folder, received);
     CREATE INDEX mail_message_id ON mail (message_id);
     CREATE VIRTUAL TABLE mail_text USING fts5(sender, subject, body, content='mail', content_rowid='id');
     CREATE TRIGGER mail_text_add AFTER INSERT ON mail BEGIN
        INSERT INTO mail_text (rowid, sender, subject, body) VALUES (NEW.id, NEW.sender, NEW.subject, NEW.body);
     END;
     CREATE TRIGGER mail_text_remove AFTER DELETE ON mail BEGIN
        INSERT INTO mail_text (mail_text, rowid, sender, subject, body) VALUES ('delete', OLD.id, OLD.sender, OLD.subject, OLD.body);
     END;
     CREATE TRIGGER mail_text_change AFTER UPDATE OF sender, subject, body ON mail BEGIN
        INSERT INTO mail_text (mail_text, rowid, sender, subject, body) VALUES ('delete', OLD.id, OLD.sender, OLD.subject, OLD.body);
        INSERT INTO mail_text (rowid, sender, subject, body) VALUES (NEW.id, NEW.sender, NEW.subject, NEW.body);
     END;
     CREATE TABLE mail_delivery (
        mail INTEGER NOT NULL REFERENCES mail (id) ON DELETE CASCADE,
        recipient TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'relayed', 'delivered', 'read')),
        updated INTEGER NOT NULL,
        PRIMARY KEY (mail, recipient)
     );
     CREATE INDEX mail_waiting ON mail_delivery (state, recipient);",
];
