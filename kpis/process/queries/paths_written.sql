-- How many paths one run of the order_paths job wrote.
SELECT count() FROM order_paths WHERE Version = {v:UInt64}
