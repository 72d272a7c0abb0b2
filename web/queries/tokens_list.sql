-- API tokens, newest first, current versions only.
SELECT TokenHash, Name, Role, CreatedBy, Created, Revoked
FROM web_api_tokens FINAL
ORDER BY Created DESC
LIMIT {limit:UInt32}
