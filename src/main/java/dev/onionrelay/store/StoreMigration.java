package dev.onionrelay.store;

/**
 * How an instance treats the store's schema at start ({@code onion.store.migrate}). Either way a schema newer than this
 * version knows is refused: an older jar never runs against tables it does not understand.
 */
public enum StoreMigration {
    /** Apply the migrations this version has and the store lacks (instances starting at once take turns). */
    AUTO,
    /** Only check that the schema is the one this version expects; migrating is a separate step of the rollout. */
    VALIDATE
}
