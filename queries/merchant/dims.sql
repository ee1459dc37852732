-- Every merchant's name, industry and city (the text columns of the merchants list), by merchant_id.
-- Callers cache it while merchants_signature is unchanged.
SELECT merchant_id, name, industry, city FROM merchants ORDER BY merchant_id
