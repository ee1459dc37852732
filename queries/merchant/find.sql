-- Merchants whose id equals $id or whose name contains $text (case-insensitive, literally: $text is
-- plain text, never a pattern), exact name matches first, then by merchant_id; at most $limit rows.
--   merchant_id, name, industry, city, exact (the name equals $text, ignoring case)
SELECT merchant_id, name, industry, city, lower(name) = lower($text) AS exact
FROM merchants
WHERE merchant_id = $id OR contains(lower(name), lower($text))
ORDER BY (merchant_id = $id) DESC, exact DESC, merchant_id
LIMIT $limit
