-- Which of the given settings the engine knows (a newer feature's setting is absent on an older
-- server).
SELECT name FROM system.settings WHERE name IN {names:Array(String)}
