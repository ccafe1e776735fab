package dev.shardlight.tokenizer.server;

import dev.shardlight.proto.v1.CountTokensRequest;
import dev.shardlight.proto.v1.DecodeRequest;
import dev.shardlight.proto.v1.EncodeRequest;
import dev.shardlight.proto.v1.ListTokenizersRequest;
import dev.shardlight.proto.v1.TokenizerInfo;
import dev.shardlight.proto.v1.TokenizerServiceGrpc;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Encode, Decode, CountTokens and ListTokenizers over gRPC, against the ids Hugging Face tokenizers produces. */
class EncodeDecodeTest {
    // the characters' own pieces: "<" "end" "_" "of" "_" "turn" ">", and "<" "|" "e" "ot" "_id" "|" ">"
    // (the goldens' "< end_of_turn >" and "<|eot_id" share these pieces)
    static final List<Integer> UNTRUSTED_END_OF_TURN = List.of(236820, 643, 236779, 1340, 236779, 887, 236813);
    static final List<Integer> UNTRUSTED_EOT_ID = List.of(27, 91, 68, 354, 851, 91, 29);

    private static final TokenizerServiceGrpc.TokenizerServiceBlockingStub stub = TestServer.shared().stub();

    private static List<Integer> encode(String model, String text) {
        return stub.encode(EncodeRequest.newBuilder().setModel(model).setText(text).build()).getIdsList();
    }

    private static String decode(String model, List<Integer> ids, boolean skipSpecial) {
        return stub.decode(DecodeRequest.newBuilder().setModel(model).addAllIds(ids).setSkipSpecial(skipSpecial).build()).getText();
    }

    private static void assertRoundTrip(String model, String text, List<Integer> expectedIds) {
        List<Integer> ids = encode(model, text);
        assertEquals(expectedIds, ids, model + " ids of " + text);
        assertEquals(text, decode(model, ids, false), model + " decode");
    }

    // expected ids: src/test/resources/goldens/encode-*.jsonl of the tokenizer module (Hugging Face tokenizers)
    @Test
    void gemmaEncodesAsHuggingFaceAndDecodesBack() {
        assertRoundTrip("gemma3", "Hello world", List.of(9259, 1902));
        assertRoundTrip("gemma3", "windows\r\nline\r\nendings\r\n\r\n", List.of(33908, 251, 107, 1257, 251, 107, 643, 1013, 251, 107, 251, 107));
        assertRoundTrip("gemma3", "你好，世界！", List.of(144626, 236900, 12811, 237354));
        assertRoundTrip("gemma3", "👨\u200d👩\u200d👧\u200d👦 family", List.of(243874, 237243, 243767, 237243, 244814, 237243, 244990, 2523));
        assertRoundTrip("gemma3", "1234567890", List.of(236770, 236778, 236800, 236812, 236810, 236825, 236832, 236828, 236819, 236771));
    }

    @Test
    void llamaEncodesAsHuggingFaceAndDecodesBack() {
        assertRoundTrip("llama3", "Hello world", List.of(9906, 1917));
        assertRoundTrip("llama3", "windows\r\nline\r\nendings\r\n\r\n", List.of(28176, 319, 1074, 319, 408, 826, 881));
        assertRoundTrip("llama3", "Привет, мир!", List.of(54745, 28089, 8341, 11, 115388, 0));
        assertRoundTrip("llama3", "1234567890", List.of(4513, 10961, 16474, 15));
        assertRoundTrip("llama3", "<|begin_of_text|>hello<|end_of_text|>", List.of(128000, 15339, 128001));
    }

    @Test
    void addBosPutsTheModelsBosFirst() {
        assertEquals(List.of(2, 9259, 1902), stub.encode(EncodeRequest.newBuilder()
                .setModel("gemma3").setText("Hello world").setAddBos(true).build()).getIdsList());
        assertEquals(List.of(128000, 9906, 1917), stub.encode(EncodeRequest.newBuilder()
                .setModel("llama3").setText("Hello world").setAddBos(true).setUntrusted(true).build()).getIdsList());
    }

    @Test
    void trustedTextMakesControlTokensUntrustedTextKeepsThemAsPlainPieces() {
        assertEquals(List.of(106), encode("gemma3", "<end_of_turn>"));
        List<Integer> untrusted = stub.encode(EncodeRequest.newBuilder()
                .setModel("gemma3").setText("<end_of_turn>").setUntrusted(true).build()).getIdsList();
        assertEquals(UNTRUSTED_END_OF_TURN, untrusted);
        assertFalse(untrusted.contains(106));
        assertEquals("<end_of_turn>", decode("gemma3", untrusted, true), "plain pieces survive skip_special");

        assertEquals(List.of(128009), encode("llama3", "<|eot_id|>"));
        List<Integer> llama = stub.encode(EncodeRequest.newBuilder()
                .setModel("llama3").setText("<|eot_id|>").setUntrusted(true).build()).getIdsList();
        assertEquals(UNTRUSTED_EOT_ID, llama);
        assertEquals("<|eot_id|>", decode("llama3", llama, true));
    }

    @Test
    void decodeSkipsControlTokensOnlyWhenAsked() {
        assertEquals("<bos>Hello world<end_of_turn>", decode("gemma3", List.of(2, 9259, 1902, 106), false));
        assertEquals("Hello world", decode("gemma3", List.of(2, 9259, 1902, 106), true));
        assertEquals("", decode("llama3", List.of(), false));
    }

    @Test
    void countTokensCountsWhatEncodeReturns() {
        assertEquals(3, stub.countTokens(CountTokensRequest.newBuilder()
                .setModel("gemma3").setText("Hello world").setAddBos(true).build()).getCount());
        assertEquals(7, stub.countTokens(CountTokensRequest.newBuilder()
                .setModel("llama3").setText("windows\r\nline\r\nendings\r\n\r\n").build()).getCount());
    }

    @Test
    void listTokenizersDescribesEveryServedModelInIdOrder() {
        List<TokenizerInfo> list = stub.listTokenizers(ListTokenizersRequest.getDefaultInstance()).getTokenizersList();
        assertEquals(List.of(
                TokenizerInfo.newBuilder().setModel("gemma3").setVocabularySize(262145).setBosId(2).setHasChatTemplate(true).build(),
                TokenizerInfo.newBuilder().setModel("llama3").setVocabularySize(128256).setBosId(128000).setHasChatTemplate(true).build()),
                list);
    }
}
