# SixChat, Deutsch (dieselben Schlüssel wie die englische Referenz).

back = Zurück
close = Schließen
dismiss = Ausblenden
remove = Entfernen
save = Speichern
unread-title = SixChat — { $count } ungelesen

## Einrichtung
wizard-title = Willkommen bei SixChat
wizard-intro = Chatten Sie direkt mit Personen, deren Identität Sie prüfen können. Wählen Sie, wie Sie Ihre Identität einrichten möchten.
wizard-invite = Einem Verzeichnis beitreten
wizard-invite-hint = Sie haben einen Einladungscode vom Verzeichnis (DIR) Ihrer Organisation erhalten.
wizard-import = PKCS#12-Datei importieren
wizard-import-hint = Verwenden Sie Ihre bestehende Identität (.p12 oder .pfx).
wizard-create = Eigenständige Identität erstellen
wizard-create-hint = Für ein LAN ohne Verzeichnis; Kontakte vergleichen einmalig einen kurzen Code.
wizard-invite-field = Einladung
wizard-invite-missing = Fügen Sie den Einladungscode ein.
wizard-name = Anzeigename
wizard-name-missing = Geben Sie einen Anzeigenamen ein.
wizard-user-id = UserID
wizard-user-id-missing = Geben Sie eine UserID ein, z. B. name@example.org.
wizard-passphrase = Passphrase
wizard-passphrase-repeat = Passphrase wiederholen
wizard-passphrase-hint = Die Passphrase verschlüsselt Ihren privaten Schlüssel auf diesem Computer. Mindestens 8 Zeichen.
wizard-passphrase-short = Die Passphrase muss mindestens 8 Zeichen lang sein.
wizard-passphrase-differ = Die beiden Passphrasen stimmen nicht überein.
wizard-file = Datei
wizard-file-missing = Wählen Sie eine PKCS#12-Datei aus.
wizard-file-password = Dateipasswort
wizard-import-passphrase-hint = Lassen Sie die Passphrase leer, um dieses Profil mit dem Passwort der Datei zu schützen.
wizard-browse = Durchsuchen…
wizard-join = Beitreten
wizard-import-go = Importieren
wizard-create-go = Identität erstellen

## Entsperren
unlock-title = SixChat entsperren
unlock-passphrase = Passphrase
unlock-go = Entsperren
unlock-remember = Passphrase im Schlüsselbund des Systems merken

## Vorgänge
task-creating = Schlüssel und Zertifikat werden erstellt…
task-importing = Wird importiert…
task-enrolling = Registrierung beim Verzeichnis…
task-unlocking = Wird entsperrt…
task-renewing = Zertifikat wird erneuert…
task-exporting = Wird exportiert…
task-backing-up = Sicherung im Verzeichnis…

## Fehler
failure-wrong-passphrase = Falsche Passphrase.
failure-wrong-password = Falsches Passwort für diese Datei.
failure-not-pkcs12 = Dies ist keine PKCS#12-Datei.
failure-invalid = Das hat nicht funktioniert:
failure-refused = Der Kontakt hat die Sitzung abgelehnt.
failure-unreachable = Der Kontakt ist nicht erreichbar.
failure-no-address = Für diesen Kontakt ist keine Adresse bekannt, und es gibt kein Verzeichnis zum Nachschlagen.
failure-no-directory = Dieses Profil ist keinem Verzeichnis beigetreten.
failure-other = Etwas ist schiefgelaufen:

## Kontakte
contacts-add = Kontakt hinzufügen
contacts-address = Adresse (optional)
contacts-search = Kontakte durchsuchen
contacts-empty = Noch keine Kontakte. Fügen Sie oben einen per UserID hinzu.
presence-online = online
presence-reachable = erreichbar
presence-offline = offline
presence-last-seen = zuletzt online { $when }

## Unterhaltung
conversation-none = Wählen Sie einen Kontakt, um zu chatten.
conversation-empty = Noch keine Nachrichten. Sagen Sie Hallo!
conversation-connect = Verbinden
conversation-search = In Unterhaltung suchen
conversation-always-accept = Immer annehmen
search-matches = { $count ->
    [one] 1 Treffer
   *[other] { $count } Treffer
}
day-today = Heute
day-yesterday = Gestern
typing = { $name } schreibt…
composer-label = Nachricht
composer-hint = Nachricht schreiben (Enter sendet, Shift+Enter für neue Zeile)
composer-send = Senden
composer-emoji = Emoji
state-queued = Ausstehend
state-sent = Gesendet
state-delivered = Zugestellt
state-read = Gelesen

## Vertrauen
trust-verified = Verifiziert
trust-known = Bekannt
trust-new = Neu
trust-anonymous = Anonym
card-issuer = Aussteller
card-valid = Gültig
card-valid-range = { $from } bis { $until }
card-fingerprint = Fingerabdruck
card-compare = Vergleichen Sie diesen Code mit Ihrem Kontakt (telefonisch oder persönlich):
card-impostor = Warnung: { $user } gehört zu einer Domain, deren Verzeichnis Sie vertrauen, doch dieser Schlüssel stammt nicht von ihm. Jemand gibt sich womöglich als diese Person aus; fixieren Sie ihn nicht.
card-codes-match = Die Codes stimmen überein
card-codes-match-hint = Auf beiden Bildschirmen steht derselbe Code: annehmen und diesen Schlüssel für { $user } merken (Sie werden nicht wieder gefragt).
card-accept-once = Einmal annehmen
card-accept-once-hint = Nur diese Sitzung annehmen; beim nächsten Mal wird der Code wieder verglichen.
card-compared = Code verglichen und angenommen.

## Mit Benutzer verbinden
connect-title = Mit Benutzer verbinden
connect-looking-up = Kontakt wird gesucht…
connect-connecting = Verbindung wird hergestellt…
connect-connected = Verbunden
connect-queued = { $count ->
    [one] Der Kontakt ist offline. 1 Nachricht wartet in seinem Verzeichnis.
   *[other] Der Kontakt ist offline. { $count } Nachrichten warten in seinem Verzeichnis.
}
connect-retry = Erneut versuchen
connect-address = Adresse
connect-address-hint = [2001:db8::5]:4605 oder 192.0.2.7:4605
connect-dial = Wählen
connect-waiting = Verbunden. Warte, bis { $name } annimmt…
connect-accepted = { $name } hat angenommen; Nachrichten gehen direkt durch.
connect-compare-first = Vergleichen Sie den Code, bevor etwas gesendet wird.
waiting-accept = warte, bis { $name } annimmt

## Eingehender Chat
incoming-title = Eingehender Chat
incoming-from = Jemand hat sich von { $addr } aus verbunden.
incoming-accept = Annehmen
incoming-accept-hint = Annehmen; Sitzungen dieses Kontakts werden nicht mehr nachgefragt, solange sein Schlüssel von seinem Verzeichnis bestätigt oder fixiert ist ("Immer annehmen" abwählen, um gefragt zu werden).
incoming-decline = Ablehnen
incoming-more = Noch { $count } in der Warteschlange

## Meine Identität
me-title = Meine Identität
me-open = Meine Identität
me-user-id = UserID
me-fingerprint = Fingerabdruck
me-addresses = Andere erreichen Sie unter
me-no-address = Noch keine Netzwerkadresse, auf der gelauscht wird.
me-copy = Kopieren
me-copied = Kopiert
me-explain = Geben Sie einem Kontakt Ihre UserID und eine dieser Adressen; vergleichen Sie den Code, wenn er sich zum ersten Mal verbindet.

## Einstellungen
settings-open = Einstellungen
settings-title = Einstellungen
settings-identity = Identität
settings-network = Netzwerk
settings-trust = Vertrauen
settings-appearance = Sprache und Darstellung
settings-user-id = UserID
settings-name = Name
settings-self-signed = Selbstsigniert (eigenständig)
settings-directory = Verzeichnis
settings-no-directory = keines
settings-renew = Jetzt erneuern
settings-backup = Im Verzeichnis sichern
settings-forget-passphrase = Gemerkte Passphrase vergessen
settings-export = Als PKCS#12 exportieren
settings-export-file = Datei
settings-export-password = Export-Passwort
settings-export-go = Exportieren
settings-listening = Lauscht auf
settings-registered = Registrierte Adressen
settings-families = Adressfamilien
settings-listen = Lauschadresse
settings-listen-hint = HOST:PORT, z. B. [::]:4605 für IPv6 und IPv4. Wirksam ab dem nächsten Start.
settings-roots = Verzeichnis-Stammzertifikate
settings-pins = Fixierte Schlüssel
settings-none = keine
settings-language = Sprache
settings-theme = Design
settings-notifications = Desktop-Benachrichtigungen
theme-system = Systemeinstellung
theme-light = Hell
theme-dark = Dunkel

## Hinweise
notice-renewed = Zertifikat erneuert, gültig bis { $until }.
notice-exported = Exportiert nach { $path }.
notice-backed-up = Gesichert. Notieren Sie sich diesen Wiederherstellungscode; er wird nur jetzt angezeigt:
notice-pinned = Schlüssel von { $user } fixiert.
notice-keyring-failed = Der Schlüsselbund des Systems konnte die Passphrase nicht speichern; Sie werden beim nächsten Start gefragt.
notice-passphrase-forgotten = Die Passphrase ist nicht mehr gespeichert; sie wird beim nächsten Start abgefragt.
notice-listen-fallback = Port { $wanted } war belegt; stattdessen wird ab jetzt { $got } verwendet (nennen Sie Kontakten diesen Port).
notify-message = Nachricht von { $name }
notify-incoming = { $name } möchte chatten

## Files: the commander, the queue, offers
files-open = Dateien
files-chat = Chat
files-contact = Kontakt:
files-no-peer = Kein Kontakt gewählt
files-pick-peer = Wählen Sie oben einen Kontakt, um seinen freigegebenen Ordner zu sehen.
files-local = Dieser Computer
files-remote = Freigegeben von { $peer }: { $path }
files-name = Name
files-size = Größe
files-date = Datum
files-reread = Neu einlesen (Strg+R)
files-copy = Auf die andere Seite kopieren (F5)
files-new-folder = Neuer Ordner (F7)
files-folder-name = Name des neuen Ordners
files-create = Anlegen
files-add = Dateien hinzufügen…
queue-title = Übertragungen
queue-empty = Keine Übertragungen.
queue-source = Quelle
queue-destination = Ziel
queue-transferred = Übertragen
queue-speed = Geschwindigkeit
queue-left = Restzeit
queue-progress = Fortschritt
queue-actions = Aktionen
queue-pause = Anhalten
queue-resume = Fortsetzen
queue-retry = Wiederholen
queue-cancel = Abbrechen
queue-state-waiting = wartet
queue-state-running = läuft
queue-state-paused = angehalten
queue-state-done = fertig, geprüft
queue-state-failed = fehlgeschlagen
queue-state-cancelled = abgebrochen
offer-text = { $name } bietet { $files } Datei(en) an, { $size }.
offer-accept = Annehmen
offer-decline = Ablehnen

## Mail
mail-open = Mail
mail-check = Nach Mail sehen
mail-compose = Mail schreiben
mail-inbox = Posteingang
mail-sent = Gesendet
mail-drafts = Entwürfe
mail-trash = Papierkorb
mail-search = Suchen
mail-empty = Hier ist keine Mail.
mail-none-open = Wählen Sie eine Mail, um sie zu lesen.
mail-reply = Antworten
mail-reply-all = Allen antworten
mail-forward = Weiterleiten
mail-save-attachments = Anhänge speichern…
mail-delete = Löschen
mail-status = Status
mail-from = Von
mail-to = An
mail-cc = Kopie
mail-date = Datum
mail-subject = Betreff
mail-delivery = Zustellung
mail-attachment = Anhang
mail-body = Nachricht
mail-attach = Dateien anhängen…
mail-drop-hint = Dateien, die Sie beim Schreiben auf das Fenster ziehen, werden angehängt.
mail-sign = Signieren
mail-encrypt = Verschlüsseln
mail-unencrypted-warning = Nicht verschlüsselt: das Verzeichnis und jeder unterwegs kann diese Mail lesen.
mail-not-sent = Nicht gesendet
mail-cannot-encrypt = Verschlüsseln lässt sich eine Mail nur an Personen, denen ihr Verzeichnis ein Verschlüsselungszertifikat ausgestellt hat. Schalten Sie „Verschlüsseln“ aus, um sie lesbar zu senden, oder bitten Sie um eine Erneuerung des Zertifikats.
mail-edit-draft = Entwurf bearbeiten
mail-save-draft = Als Entwurf speichern
mail-send = Senden
