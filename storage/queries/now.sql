-- The store's clock: insert times are the store's, not this process's.
SELECT now64(3, 'UTC')
