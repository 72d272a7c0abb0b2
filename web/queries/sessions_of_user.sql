-- The live sessions of one user (not revoked, not past their absolute expiry).
SELECT SessionHash, Username, CsrfToken, Address, Created, LastSeen, ExpiresAt, Revoked
FROM web_sessions FINAL
WHERE Username = {username:String} AND Revoked = 0 AND ExpiresAt > {now:DateTime64(3)}
ORDER BY Created
