package dev.shardlight.gateway.routing;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code shardlight.intents} (see shardlight.conf): which served model classifies requests for
 * model "auto", the intents it chooses between, and what happens when it is unsure, missing or
 * slow, or when the chosen model is overloaded.
 *
 * @param routerModel   the classifier (any served causal LM); empty: "auto" is not offered
 * @param minConfidence below this top-intent probability the fallback model serves
 * @param timeout       how long routing may take before the fallback model serves instead
 * @param ladder        models largest first; a request steps down while its model's load per
 *                      ready replica exceeds {@code ladderThreshold}
 */
public record IntentConfig(String routerModel, List<Intent> intents, double minConfidence, String fallbackModel,
                           Duration timeout, String promptTemplate, List<String> ladder, int ladderThreshold) {

    /** @param examples few-shot requests that belong to this intent (shown in the prompt) */
    public record Intent(String name, String description, List<String> examples, String target) {
    }

    public static final String DEFAULT_TEMPLATE = """
            Classify the request into one of these categories:
            {labels}
            {examples}
            Request: {input}
            Category:""";

    public IntentConfig {
        intents = List.copyOf(intents);
        ladder = List.copyOf(ladder);
        if (!routerModel.isEmpty()) {
            if (intents.isEmpty()) {
                throw new IllegalArgumentException("shardlight.intents.intents: router-model " + routerModel
                        + " is set but no intents are declared");
            }
            if (fallbackModel.isEmpty()) {
                throw new IllegalArgumentException("shardlight.intents.fallback-model: required when router-model is set");
            }
        }
        Set<String> names = new HashSet<>();
        for (Intent i : intents) {
            if (i.name().isBlank() || i.target().isBlank()) {
                throw new IllegalArgumentException("shardlight.intents.intents: every intent needs a name and a target");
            }
            if (!names.add(i.name())) {
                throw new IllegalArgumentException("shardlight.intents.intents: intent \"" + i.name() + "\" is declared twice");
            }
        }
        if (minConfidence < 0 || minConfidence > 1) {
            throw new IllegalArgumentException("shardlight.intents.min-confidence = " + minConfidence + " must be in [0, 1]");
        }
        if (!promptTemplate.contains("{input}")) {
            throw new IllegalArgumentException("shardlight.intents.prompt-template must contain {input}");
        }
    }

    public boolean enabled() {
        return !routerModel.isEmpty();
    }

    /** Reads {@code shardlight.intents}; absent or without router-model: routing off. */
    public static IntentConfig fromConfig(Config root) {
        if (!root.hasPath("shardlight.intents")) {
            return new IntentConfig("", List.of(), 0, "", Duration.ofSeconds(2), DEFAULT_TEMPLATE, List.of(), 0);
        }
        Config c = root.getConfig("shardlight.intents");
        try {
            List<Intent> intents = new ArrayList<>();
            for (Config i : c.hasPath("intents") ? c.getConfigList("intents") : List.<Config>of()) {
                intents.add(new Intent(i.getString("name"), i.hasPath("description") ? i.getString("description") : "",
                        i.hasPath("examples") ? i.getStringList("examples") : List.of(), i.getString("target")));
            }
            return new IntentConfig(c.hasPath("router-model") ? c.getString("router-model") : "", intents,
                    c.hasPath("min-confidence") ? c.getDouble("min-confidence") : 0.0,
                    c.hasPath("fallback-model") ? c.getString("fallback-model") : "",
                    c.hasPath("timeout") ? c.getDuration("timeout") : Duration.ofSeconds(2),
                    c.hasPath("prompt-template") && !c.getString("prompt-template").isEmpty()
                            ? c.getString("prompt-template") : DEFAULT_TEMPLATE,
                    c.hasPath("ladder.models") ? c.getStringList("ladder.models") : List.of(),
                    c.hasPath("ladder.queue-threshold") ? c.getInt("ladder.queue-threshold") : 4);
        } catch (ConfigException e) {
            throw new IllegalArgumentException("shardlight.intents: " + e.getMessage(), e);
        }
    }

    /** Refuses a configuration that names a model the cluster does not declare (caught at start, not per request). */
    public void checkModelsDeclared(java.util.Collection<String> declared) {
        if (!enabled()) {
            return;
        }
        List<String> named = new ArrayList<>(List.of(routerModel, fallbackModel));
        intents.forEach(i -> named.add(i.target()));
        named.addAll(ladder);
        for (String m : named) {
            if (!declared.contains(m)) {
                throw new IllegalArgumentException("shardlight.intents names model \"" + m
                        + "\", which is not declared in shardlight.models (declared: " + String.join(", ", declared) + ")");
            }
        }
    }

    /** The few-shot block of the prompt: one "Request: ... / Category: name" pair per example. */
    public String examplesBlock() {
        StringBuilder b = new StringBuilder();
        for (Intent i : intents) {
            for (String e : i.examples()) {
                b.append("\nRequest: ").append(e).append("\nCategory: ").append(i.name()).append('\n');
            }
        }
        return b.toString();
    }
}
