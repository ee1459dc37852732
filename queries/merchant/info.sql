-- One merchant ($m): its name, industry, city, province and created_at, and how many Official
-- Accounts, Mini Programs, WeCom enterprises, Channels and customer groups it runs. No row when the
-- merchant does not exist.
SELECT m.merchant_id, m.name, m.industry, m.city, m.province, m.created_at,
       (SELECT count(*) FROM official_accounts WHERE merchant_id = $m)::BIGINT AS official_accounts,
       (SELECT count(*) FROM mini_programs WHERE merchant_id = $m)::BIGINT AS mini_programs,
       (SELECT count(*) FROM wecom_enterprises WHERE merchant_id = $m)::BIGINT AS wecom_enterprises,
       (SELECT count(*) FROM channels WHERE merchant_id = $m)::BIGINT AS channels
FROM merchants m WHERE m.merchant_id = $m
