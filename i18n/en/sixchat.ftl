# SixChat, English (the reference: every other language has exactly these keys).

back = Back
close = Close
dismiss = Dismiss
remove = Remove
save = Save
unread-title = SixChat — { $count } unread

## Wizard
wizard-title = Welcome to SixChat
wizard-intro = Chat directly with people you can verify. Choose how to set up your identity.
wizard-invite = Join a directory
wizard-invite-hint = You got an invite string from your organisation's directory (DIR).
wizard-import = Import a PKCS#12 file
wizard-import-hint = Bring the identity you already have (.p12 or .pfx).
wizard-create = Create a standalone identity
wizard-create-hint = For a LAN without a directory; peers compare a short code once.
wizard-invite-field = Invite
wizard-invite-missing = Paste the invite string.
wizard-name = Display name
wizard-name-missing = Enter a display name.
wizard-user-id = UserID
wizard-user-id-missing = Enter a UserID such as name@example.org.
wizard-passphrase = Passphrase
wizard-passphrase-repeat = Repeat passphrase
wizard-passphrase-hint = The passphrase encrypts your private key on this computer. At least 8 characters.
wizard-passphrase-short = The passphrase needs at least 8 characters.
wizard-passphrase-differ = The two passphrases differ.
wizard-file = File
wizard-file-missing = Choose a PKCS#12 file.
wizard-file-password = File password
wizard-import-passphrase-hint = Leave the passphrase empty to protect this profile with the file's password.
wizard-browse = Browse…
wizard-join = Join
wizard-import-go = Import
wizard-create-go = Create identity

## Unlock
unlock-title = Unlock SixChat
unlock-passphrase = Passphrase
unlock-go = Unlock
unlock-remember = Remember the passphrase in the system keyring

## Tasks
task-creating = Creating your key and certificate…
task-importing = Importing…
task-enrolling = Enrolling with the directory…
task-unlocking = Unlocking…
task-renewing = Renewing the certificate…
task-exporting = Exporting…
task-backing-up = Backing up to the directory…

## Failures
failure-wrong-passphrase = Wrong passphrase.
failure-wrong-password = Wrong password for this file.
failure-not-pkcs12 = This is not a PKCS#12 file.
failure-invalid = That did not work:
failure-refused = The peer refused the session.
failure-unreachable = The peer could not be reached.
failure-no-address = No address is known for this peer, and there is no directory to ask.
failure-no-directory = This profile has not joined a directory.
failure-other = Something went wrong:

## Contacts
contacts-add = Add contact
contacts-address = Address (optional)
contacts-search = Search contacts
contacts-empty = No contacts yet. Add one by UserID above.
presence-online = online
presence-reachable = reachable
presence-offline = offline
presence-last-seen = last seen { $when }

## Conversation
conversation-none = Choose a contact to start chatting.
conversation-empty = No messages yet. Say hello!
conversation-connect = Connect
conversation-search = Search in conversation
conversation-always-accept = Always accept
search-matches = { $count ->
    [one] 1 match
   *[other] { $count } matches
}
day-today = Today
day-yesterday = Yesterday
typing = { $name } is typing…
composer-label = Message
composer-hint = Write a message (Enter sends, Shift+Enter for a new line)
composer-send = Send
composer-emoji = Emoji
state-queued = Queued
state-sent = Sent
state-delivered = Delivered
state-read = Read

## Trust
trust-verified = Verified
trust-known = Known
trust-new = New
trust-anonymous = Anonymous
card-issuer = Issuer
card-valid = Valid
card-valid-range = { $from } to { $until }
card-fingerprint = Fingerprint
card-compare = Compare this code with your peer (by phone or in person):
card-impostor = Warning: { $user } belongs to a domain whose directory you trust, yet this key was not issued by it. Someone may be pretending to be them; do not pin it.
card-codes-match = The codes match
card-codes-match-hint = The code is the same on both screens: accept, and remember this key for { $user } (you will not be asked again).
card-accept-once = Accept once
card-accept-once-hint = Accept this session only; the code will be compared again next time.
card-compared = Code compared and accepted.

## Connect to User
connect-title = Connect to User
connect-looking-up = Looking up the peer…
connect-connecting = Connecting…
connect-connected = Connected
connect-queued = { $count ->
    [one] The peer is offline. 1 message waits at its directory.
   *[other] The peer is offline. { $count } messages wait at its directory.
}
connect-retry = Try again
connect-address = Address
connect-address-hint = [2001:db8::5]:4605 or 192.0.2.7:4605
connect-dial = Dial
connect-waiting = Connected. Waiting for { $name } to accept…
connect-accepted = { $name } accepted; messages go straight through.
connect-compare-first = Compare the code before anything is sent.
waiting-accept = waiting for { $name } to accept

## Incoming Chat
incoming-title = Incoming Chat
incoming-from = A peer connected from { $addr }.
incoming-accept = Accept
incoming-accept-hint = Accept; this contact's sessions will not ask again while its key is verified by its directory or pinned (untick "Always accept" to be asked).
incoming-decline = Decline
incoming-more = { $count } more waiting

## My identity
me-title = My identity
me-open = My identity
me-user-id = UserID
me-fingerprint = Fingerprint
me-addresses = Others can reach you at
me-no-address = Not listening on a network address yet.
me-copy = Copy
me-copied = Copied
me-explain = Give a contact your UserID and one of these addresses; compare the code when they first connect.

## Settings
settings-open = Settings
settings-title = Settings
settings-identity = Identity
settings-network = Network
settings-trust = Trust
settings-appearance = Language and appearance
settings-user-id = UserID
settings-name = Name
settings-self-signed = Self-signed (standalone)
settings-directory = Directory
settings-no-directory = none
settings-renew = Renew now
settings-backup = Back up to the directory
settings-forget-passphrase = Forget the remembered passphrase
settings-export = Export as PKCS#12
settings-export-file = File
settings-export-password = Export password
settings-export-go = Export
settings-listening = Listening on
settings-registered = Registered addresses
settings-families = Address families
settings-listen = Listen address
settings-listen-hint = HOST:PORT, e.g. [::]:4605 for IPv6 and IPv4. Takes effect at the next start.
settings-roots = Directory roots
settings-pins = Pinned keys
settings-none = none
settings-language = Language
settings-theme = Theme
settings-notifications = Desktop notifications
theme-system = Follow the system
theme-light = Light
theme-dark = Dark

## Notices
notice-renewed = Certificate renewed, valid until { $until }.
notice-exported = Exported to { $path }.
notice-backed-up = Backed up. Write down this recovery code; it is shown only now:
notice-pinned = Pinned the key of { $user }.
notice-keyring-failed = The system keyring could not keep the passphrase; you will be asked at the next start.
notice-passphrase-forgotten = The passphrase is no longer remembered; it will be asked at the next start.
notice-listen-fallback = Port { $wanted } was busy; listening on { $got } instead, from now on (give contacts this port).
notify-message = Message from { $name }
notify-incoming = { $name } wants to chat

## Files: the commander, the queue, offers
files-open = Files
files-chat = Chat
files-contact = Contact:
files-no-peer = No contact chosen
files-pick-peer = Choose a contact above to see the folder they share.
files-local = This computer
files-remote = Shared by { $peer }: { $path }
files-name = Name
files-size = Size
files-date = Date
files-reread = Reread (Ctrl+R)
files-copy = Copy to the other side (F5)
files-new-folder = New folder (F7)
files-folder-name = Name of the new folder
files-create = Create
files-add = Add files…
queue-title = Transfers
queue-empty = No transfers.
queue-source = Source
queue-destination = Destination
queue-transferred = Transferred
queue-speed = Speed
queue-left = Time left
queue-progress = Progress
queue-actions = Actions
queue-pause = Pause
queue-resume = Resume
queue-retry = Retry
queue-cancel = Cancel
queue-state-waiting = waiting
queue-state-running = running
queue-state-paused = paused
queue-state-done = done, verified
queue-state-failed = failed
queue-state-cancelled = cancelled
offer-text = { $name } offers { $files } file(s), { $size }.
offer-accept = Accept
offer-decline = Decline

## Mail
mail-open = Mail
mail-check = Check for mail
mail-compose = Write a mail
mail-inbox = Inbox
mail-sent = Sent
mail-drafts = Drafts
mail-trash = Trash
mail-search = Search
mail-empty = No mail here.
mail-none-open = Choose a mail to read it.
mail-reply = Reply
mail-reply-all = Reply to all
mail-forward = Forward
mail-save-attachments = Save attachments…
mail-delete = Delete
mail-status = Status
mail-from = From
mail-to = To
mail-cc = Cc
mail-date = Date
mail-subject = Subject
mail-delivery = Delivery
mail-attachment = Attachment
mail-body = Message
mail-attach = Attach files…
mail-drop-hint = Files dropped on the window while you write are attached.
mail-sign = Sign
mail-encrypt = Encrypt
mail-unencrypted-warning = Not encrypted: the DIR and anyone on the way can read this mail.
mail-not-sent = Not sent
mail-cannot-encrypt = A mail can only be encrypted to people whose directory issued them a mail encryption certificate. Turn "Encrypt" off to send it readable by anyone on the way, or ask them to renew their certificate.
mail-edit-draft = Edit draft
mail-save-draft = Save draft
mail-send = Send
