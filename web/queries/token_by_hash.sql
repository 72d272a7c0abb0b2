-- An API token by the SHA-256 digest of its secret (the secret itself is never stored).
SELECT TokenHash, Name, Role, CreatedBy, Created, Revoked
FROM web_api_tokens FINAL
WHERE TokenHash = {token_hash:String}
LIMIT 1
