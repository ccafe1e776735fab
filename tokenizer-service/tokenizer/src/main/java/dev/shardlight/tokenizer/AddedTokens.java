package dev.shardlight.tokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/**
 * Tokens matched whole in raw text before the model sees it (tokenizers' AddedVocabulary; in GGUF
 * the control and user-defined types). Matching is leftmost-longest over all of them, as
 * tokenizers' Aho-Corasick split does; a special token the caller does not trust there is
 * dropped from the matches and its text encoded as ordinary text (tokenizers'
 * {@code encode_special_tokens}).
 */
final class AddedTokens {
    /** One added token; {@code special} ones are control tokens that untrusted text never yields. */
    record Entry(String content, int id, boolean special) {
    }

    /** Decides, per match, whether a special token may be produced at {@code [start, end)}. */
    interface SpecialPolicy {
        SpecialPolicy ALLOW = (start, end) -> true;
        SpecialPolicy DENY = (start, end) -> false;

        boolean allows(int start, int end);
    }

    /** Receives the text between matches and the matched ids, in order. */
    interface Sink {
        void text(int start, int end);

        void token(int id, int start, int end);
    }

    private final List<Entry> entries;
    private final java.util.Set<Integer> specialIds = new java.util.HashSet<>();
    private final Node root = new Node();
    private final boolean[] startsBmp = new boolean[0x10000];

    AddedTokens(List<Entry> entries) {
        this.entries = List.copyOf(entries);
        for (Entry e : this.entries) {
            if (e.special) {
                specialIds.add(e.id);
            }
        }
        BuildNode broot = new BuildNode();
        for (int i = 0; i < this.entries.size(); i++) {
            String s = this.entries.get(i).content;
            if (s.isEmpty()) {
                continue;
            }
            BuildNode n = broot;
            for (int k = 0; k < s.length(); k++) {
                n = n.kids.computeIfAbsent(s.charAt(k), c -> new BuildNode());
            }
            if (n.entry < 0) {
                n.entry = i; // a repeated content keeps its first entry
            }
            startsBmp[s.charAt(0)] = true;
        }
        freeze(broot, root);
    }

    List<Entry> entries() {
        return entries;
    }

    boolean isSpecialId(int id) {
        return specialIds.contains(id);
    }

    boolean isEmpty() {
        return entries.isEmpty();
    }

    /** Splits {@code text} into ordinary text and added tokens, reporting both to {@code sink}. */
    void split(String text, SpecialPolicy policy, Sink sink) {
        int n = text.length();
        int textStart = 0;
        int i = 0;
        while (i < n) {
            if (!startsBmp[text.charAt(i)]) {
                i++;
                continue;
            }
            int matchEnd = -1;
            int matchEntry = -1;
            Node node = root;
            for (int k = i; k < n; k++) {
                node = node.child(text.charAt(k));
                if (node == null) {
                    break;
                }
                if (node.entry >= 0) {
                    matchEnd = k + 1;
                    matchEntry = node.entry;
                }
            }
            if (matchEntry < 0) {
                i++;
                continue;
            }
            Entry e = entries.get(matchEntry);
            if (e.special && !policy.allows(i, matchEnd)) {
                i = matchEnd; // the match is consumed but left as text, like tokenizers does
                continue;
            }
            if (textStart < i) {
                sink.text(textStart, i);
            }
            sink.token(e.id, i, matchEnd);
            i = matchEnd;
            textStart = i;
        }
        if (textStart < n) {
            sink.text(textStart, n);
        }
    }

    private static final class BuildNode {
        final TreeMap<Character, BuildNode> kids = new TreeMap<>();
        int entry = -1;
    }

    private static void freeze(BuildNode from, Node to) {
        to.entry = from.entry;
        int k = from.kids.size();
        to.keys = new char[k];
        to.kids = new Node[k];
        int i = 0;
        for (var e : from.kids.entrySet()) {
            to.keys[i] = e.getKey();
            Node child = new Node();
            freeze(e.getValue(), child);
            to.kids[i] = child;
            i++;
        }
    }

    /** Trie node with sorted child keys, searched by binary search. */
    private static final class Node {
        char[] keys = new char[0];
        Node[] kids = new Node[0];
        int entry = -1;

        Node child(char c) {
            int i = Arrays.binarySearch(keys, c);
            return i >= 0 ? kids[i] : null;
        }
    }
}
