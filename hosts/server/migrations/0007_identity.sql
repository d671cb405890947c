-- The store's identity: a random id given at creation, and a value sealed under the key the
-- store was created with. At start the server refuses a key that cannot open it (every sealed
-- secret would be unreadable) and a store whose id differs from the one recorded beside the key
-- file (a wrong --db, a replaced volume, a restored copy).

CREATE TABLE IF NOT EXISTS identity (id BIGINT PRIMARY KEY, store_id TEXT NOT NULL, key_check TEXT NOT NULL);
