-- pgbench's yardstick for bench/shop.py: one order of one unit as ONE statement, the way
-- keel's checkout placed every order on PostgreSQL until issue 13 (a CTE that locks the
-- product row, checks and takes the stock, and writes the order and its line). Every order
-- holds the row lock for its own statement and commit: on one product row that is the ceiling
-- a per-order design cannot pass. Variables: lo..hi the product ids, ulo..uhi the buyers.
\set pid random(:lo, :hi)
\set uid random(:ulo, :uhi)
WITH locked AS (
    SELECT id, name, price, stock, deleted_at FROM products WHERE id = :pid FOR UPDATE
),
sale AS (
    SELECT id, name, price, 1 AS quantity FROM locked WHERE deleted_at IS NULL AND stock >= 1
),
complete AS (
    SELECT count(*) = 1 AS ok, sum(price * quantity) AS total FROM sale
),
taken AS (
    UPDATE products SET stock = products.stock - sale.quantity
    FROM sale, complete WHERE complete.ok AND products.id = sale.id
),
placed AS (
    INSERT INTO orders (user_id, total_amount, status, shipping_address, payment_method, created_at,
        updated_at, expires_at)
    SELECT :uid, complete.total, 'pending_payment',
        '{"recipient": "Bench", "line1": "1 Main St", "city": "Taipei", "country": "TW"}'::jsonb,
        'card', now(), now(), now() + interval '30 minutes'
    FROM complete WHERE complete.ok
    RETURNING id, total_amount
)
INSERT INTO order_items (order_id, product_id, product_name, quantity, price_at_purchase, created_at)
SELECT placed.id, sale.id, sale.name, sale.quantity, sale.price, now()
FROM placed CROSS JOIN sale
RETURNING id, order_id, product_id, product_name, quantity, price_at_purchase;
