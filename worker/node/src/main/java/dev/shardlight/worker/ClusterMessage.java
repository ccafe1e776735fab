package dev.shardlight.worker;

/**
 * Marker of every message that may cross nodes. reference.conf binds it to Pekko's Jackson CBOR
 * serializer, so no message is ever Java-serialized; tests run with
 * {@code pekko.actor.serialize-messages = on} to prove each one round-trips. Messages evolve
 * like the public proto: fields are only added (with defaults for old senders), renames go
 * through a {@code JacksonMigration}.
 */
public interface ClusterMessage {
}
