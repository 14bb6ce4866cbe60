"""What DuckDB's functions do to the cursor, the database and the machine, in one place.

Scalar, aggregate and window functions carry DuckDB's own `has_side_effects` flag: those
without it only compute. The few with it are named below. Table and pragma functions
carry no flag, so every one DuckDB ships is classified here by hand; a DuckDB that adds
one fails `test_every_table_function_is_classified` until it is, and meanwhile an
unclassified name counts as a write (refused on `--read-only`, its cursor discarded).
"""

from __future__ import annotations

import enum


class Effect(enum.Enum):
    READ = "read"  # computes or reads; leaves nothing behind
    SESSION = "session"  # changes the cursor's own state (seed, profiling): cursor discarded
    WRITE = "write"  # changes the database, its files, global state or memory it points at
    RUNS_SQL = "runs_sql"  # runs SQL text from its argument


# Scalar functions DuckDB flags `has_side_effects`. Drawing random numbers advances the
# cursor's generator, whose outputs could let a caller predict the next client's.
SIDE_EFFECT_SCALARS: dict[str, Effect] = {
    "current_connection_id": Effect.READ,
    "current_query": Effect.READ,
    "current_query_id": Effect.READ,
    "current_transaction_id": Effect.READ,
    "currval": Effect.READ,
    "error": Effect.READ,
    "sleep_ms": Effect.READ,
    "stats": Effect.READ,
    "vector_type": Effect.READ,
    "gen_random_uuid": Effect.SESSION,
    "random": Effect.SESSION,
    "setseed": Effect.SESSION,
    "uuid": Effect.SESSION,
    "uuidv4": Effect.SESSION,
    "uuidv7": Effect.SESSION,
    "nextval": Effect.WRITE,
    "setval": Effect.WRITE,
    "write_log": Effect.WRITE,
}

_READ_TABLES = """
    duckdb_approx_database_count duckdb_available_metrics duckdb_columns
    duckdb_connection_count duckdb_constraints duckdb_coordinate_systems duckdb_databases
    duckdb_dependencies duckdb_dialects duckdb_eviction_queues duckdb_extension_repositories
    duckdb_extensions duckdb_external_file_cache duckdb_external_resource_types
    duckdb_external_resources duckdb_functions duckdb_grammar_extensions duckdb_indexes
    duckdb_keywords duckdb_live_query_metrics duckdb_log_contexts duckdb_logs duckdb_memory
    duckdb_optimizers duckdb_prepared_statements duckdb_schemas duckdb_secret_type_parameters
    duckdb_secret_types duckdb_secrets duckdb_sequences duckdb_settings duckdb_table_sample
    duckdb_tables duckdb_temporary_files duckdb_triggers duckdb_types duckdb_variables
    duckdb_views generate_series glob icu_calendar_names json_each json_tree
    parquet_bloom_probe parquet_file_metadata parquet_full_metadata parquet_kv_metadata
    parquet_metadata parquet_page_index parquet_scan parquet_schema pg_timezone_names
    pragma_collations pragma_database_size pragma_metadata_info pragma_platform pragma_show
    pragma_storage_info pragma_table_info pragma_user_agent pragma_version query_table range
    read_blob read_csv read_csv_auto read_duckdb read_json read_json_auto read_json_objects
    read_json_objects_auto read_ndjson read_ndjson_auto read_ndjson_objects read_parquet
    read_single_csv_file read_single_json_file read_single_parquet_file read_text repeat
    repeat_row seq_scan sniff_csv summary test_all_types test_vector_types unnest which_secret
"""
# Checkpoints, logs (global: they show every client's SQL), the parser's grammar, external
# resources, profiling to a file; and scans that take raw memory addresses as arguments.
_WRITE_TABLES = """
    add_grammar_extension remove_grammar_extension checkpoint force_checkpoint
    create_external_resource deregister_external_resource destroy_external_resource
    register_external_resource register_external_resource_type enable_logging
    disable_logging truncate_duckdb_logs enable_profiling arrow_scan arrow_scan_dumb
    pandas_scan python_arrow_scan python_map_function
"""
TABLE_FUNCTIONS: dict[str, Effect] = {
    **dict.fromkeys(_READ_TABLES.split(), Effect.READ),
    **dict.fromkeys(_WRITE_TABLES.split(), Effect.WRITE),
    "disable_profiling": Effect.SESSION,
    "query": Effect.RUNS_SQL,
    "json_execute_serialized_sql": Effect.RUNS_SQL,
}

# Pragma functions run only as PRAGMA or CALL statements, which are never pure reads.
_PRAGMAS = """
    add_parquet_key collations copy_database database_list database_size
    disable_checkpoint_on_shutdown disable_object_cache disable_optimizer
    disable_print_progress_bar disable_profile disable_profiling disable_progress_bar
    disable_verification disable_verify_parallelism enable_checkpoint_on_shutdown
    enable_object_cache enable_optimizer enable_print_progress_bar enable_profile
    enable_profiling enable_progress_bar enable_verification extension_versions
    force_checkpoint functions import_database json_execute_serialized_sql metadata_info
    platform show show_databases show_tables show_tables_expanded storage_info table_info
    user_agent verify_parallelism version
"""
PRAGMAS = frozenset(_PRAGMAS.split())

# The words a text needs for its tree to hold a call that is not a plain read.
FLAGGED_NAMES = frozenset(
    [name for name, effect in SIDE_EFFECT_SCALARS.items() if effect is not Effect.READ]
    + [name for name, effect in TABLE_FUNCTIONS.items() if effect is not Effect.READ]
)
