package dev.shardlight.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ScoreLabels through a replica with the real engine on the llama32-like fixture, every message
 * serialized (Jackson CBOR): the numbers are transformers' (labels.json, see LabelScorerTest) and
 * bad input is refused with the reason, leaving the replica serving.
 */
class ScoreLabelsTest {
    static final Path FIXTURES = Path.of("../engine/src/test/resources/fixtures");
    static final ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString("""
            pekko.actor.provider = cluster
            pekko.remote.artery.canonical.port = 0
            pekko.remote.artery.canonical.hostname = 127.0.0.1
            pekko.actor.serialize-messages = on
            pekko.loglevel = WARNING
            """).withFallback(ConfigFactory.load()));

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static int[] ids(JsonNode n) {
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = n.get(i).asInt();
        }
        return out;
    }

    @Test
    void aReplicaScoresLabelsOnItsEngineAsTransformersDoes() throws Exception {
        String path = FIXTURES.resolve("llama32-like/hf-f32").toString();
        var catalog = new ModelCatalog(List.of(new ModelSpec("llama", path, 1, 256, 1 << 20, 2, 1)));
        var replica = kit.spawn(ModelReplica.create(new ReplicaId("llama", 0), catalog, EngineReplica::open), "scorer");
        TestProbe<ModelReplica.Status> status = kit.createTestProbe();
        status.awaitAssert(Duration.ofSeconds(20), () -> {
            replica.tell(new ModelReplica.GetStatus(status.getRef()));
            assertEquals(ModelReplica.State.READY, status.receiveMessage().state());
            return null;
        });
        JsonNode c = new ObjectMapper().readTree(FIXTURES.resolve("labels.json").toFile()).path("cases").get(3);
        assertEquals("llama32-like", c.path("fixture").asText());
        int[][] labels = new int[c.path("labels").size()][];
        for (int k = 0; k < labels.length; k++) {
            labels[k] = ids(c.path("labels").get(k));
        }
        TestProbe<ScoreLabels.Reply> client = kit.createTestProbe();
        replica.tell(new ScoreLabels("r1", ids(c.path("prompt")), labels, 0, client.getRef()));
        ScoreLabels.Scored s = client.expectMessageClass(ScoreLabels.Scored.class, Duration.ofSeconds(20));
        assertEquals("llama#0", s.replicaId());
        assertEquals(4, s.forwardPasses());
        for (int k = 0; k < labels.length; k++) {
            assertEquals(c.path("log_likelihoods").get(k).asDouble(), s.logLikelihoods()[k], 1e-3);
            assertEquals(labels[k].length, s.tokenLogprobs()[k].length);
        }
        assertTrue(s.engineNanos() > 0);

        replica.tell(new ScoreLabels("r2", new int[] {1, 2}, new int[][] {{3}, {}}, 0, client.getRef()));
        ScoreLabels.Refused bad = client.expectMessageClass(ScoreLabels.Refused.class);
        assertEquals(ModelReplica.Refusal.INVALID, bad.refusal());
        assertEquals("labels[1] has no tokens", bad.message());

        replica.tell(new ScoreLabels("r3", new int[] {1, 2}, new int[][] {{3}}, System.currentTimeMillis() - 1, client.getRef()));
        assertTrue(client.expectMessageClass(ScoreLabels.Refused.class).message().startsWith("deadline exceeded"));

        replica.tell(new ScoreLabels("r4", new int[] {1, 2}, new int[][] {{3}, {4, 5}}, 0, client.getRef()));
        assertEquals(2, client.expectMessageClass(ScoreLabels.Scored.class).logLikelihoods().length);
    }
}
