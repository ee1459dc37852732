-- What identifies the current set of merchants (count and largest id): the merchants list keeps its
-- cached names while this is unchanged (merchants are only ever added).
SELECT count(*)::BIGINT AS n, coalesce(max(merchant_id), 0)::BIGINT AS max_id FROM merchants
