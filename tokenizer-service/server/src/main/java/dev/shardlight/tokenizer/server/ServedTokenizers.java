package dev.shardlight.tokenizer.server;

import dev.shardlight.tokenizer.ChatTemplate;
import dev.shardlight.tokenizer.Tokenizer;
import io.grpc.Status;

import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The tokenizers one server serves, by model id, each with its chat template parsed once (a
 * {@link ChatTemplate} is immutable; rendering builds a fresh context per call).
 */
public final class ServedTokenizers {
    record Served(String model, Tokenizer tokenizer, Optional<ChatTemplate> template) {
    }

    private final SortedMap<String, Served> byModel = new TreeMap<>();

    public ServedTokenizers(Map<String, Tokenizer> tokenizers) {
        if (tokenizers.isEmpty()) {
            throw new IllegalArgumentException("a tokenizer service needs at least one tokenizer");
        }
        tokenizers.forEach((model, t) -> {
            if (model.isBlank()) {
                throw new IllegalArgumentException("a model id must not be blank");
            }
            byModel.put(model, new Served(model, t, t.chatTemplate()));
        });
    }

    /** The served model, or NOT_FOUND naming {@code model} and listing the served ids. */
    Served get(String model) {
        Served s = byModel.get(model);
        if (s == null) {
            throw Status.NOT_FOUND.withDescription((model.isEmpty() ? "model: required" : "unknown model \"" + model + "\"")
                    + "; this server has " + String.join(", ", byModel.keySet())).asRuntimeException();
        }
        return s;
    }

    Iterable<Served> all() {
        return byModel.values();
    }
}
