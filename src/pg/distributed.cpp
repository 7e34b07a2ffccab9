#include "pg/distributed.hpp"
#include "pg/module.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "utils/inval.h"
}

#include <cstring>

namespace compute::pg {

namespace {

// -1: unknown; 0: a plain table (or none); 1: distributed.
int distributed_state = -1;
Oid jobs_relid = InvalidOid;

void
OnJobsInvalidation(Datum, Oid relid) {
	if (relid == InvalidOid || relid == jobs_relid) {
		distributed_state = -1;
	}
}

} // namespace

bool
Distributed() {
	if (distributed_state >= 0) {
		return distributed_state == 1;
	}
	Oid schema = get_namespace_oid("compute", true);
	jobs_relid = OidIsValid(schema) ? get_relname_relid("jobs", schema) : InvalidOid;
	// Citus's catalog of distributed tables: absent without Citus.
	Oid catalog = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
	if (!OidIsValid(jobs_relid) || !OidIsValid(catalog)) {
		distributed_state = 0;
		return false;
	}
	SPI_connect();
	Oid types[1] = {REGCLASSOID};
	Datum args[1] = {ObjectIdGetDatum(jobs_relid)};
	int rc = SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1", 1, types,
	                               args, nullptr, true, 1);
	bool distributed = rc == SPI_OK_SELECT && SPI_processed > 0;
	SPI_finish();
	distributed_state = distributed ? 1 : 0;
	return distributed;
}

bool
IsShard(Relation relation) {
	// Citus names a shard <table>_<shard id>, in the table's schema.
	return strcmp(RelationGetRelationName(relation), "jobs") != 0;
}

void
InitDistributed() {
	OnRelcacheInvalidation(OnJobsInvalidation);
}

} // namespace compute::pg
