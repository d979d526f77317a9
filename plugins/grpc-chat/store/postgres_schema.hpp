// The PostgreSQL store's schema: versioned migrations, applied at start.
#pragma once

#include "store/postgres_connection.hpp"

namespace chat::store::pg {

// The version this binary migrates a database to.
int newest_schema_version();

// Brings the database to newest_schema_version() in one transaction and
// returns the version it found (0: an empty database). Throws StoreError,
// having written nothing, when the database is newer than this binary.
int migrate(const Connection& db);

}  // namespace chat::store::pg
