-- Every stored dashboard user, current versions only.
SELECT Username, Role, Disabled, Updated
FROM web_users FINAL
ORDER BY Username
