-- The current record of one stored dashboard user (latest version wins).
SELECT Username, PasswordHash, Role, Disabled
FROM web_users FINAL
WHERE Username = {username:String}
LIMIT 1
