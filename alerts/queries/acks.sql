SELECT Fingerprint, FiredAt, AckedBy, Comment, AckedAt
FROM alert_acks FINAL
WHERE has({fingerprints:Array(String)}, Fingerprint)
