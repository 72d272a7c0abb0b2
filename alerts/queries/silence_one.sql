SELECT Id, Matchers, StartsAt, EndsAt, CreatedBy, Comment, UpdatedAt
FROM alert_silences FINAL
WHERE Id = {id:String}
