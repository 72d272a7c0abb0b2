-- The current record of one dashboard session, by the SHA-256 of its cookie value.
SELECT SessionHash, Username, CsrfToken, Address, Created, LastSeen, ExpiresAt, Revoked
FROM web_sessions FINAL
WHERE SessionHash = {session_hash:String}
LIMIT 1
