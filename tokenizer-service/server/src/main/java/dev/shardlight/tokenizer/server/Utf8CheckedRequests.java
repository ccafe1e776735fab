package dev.shardlight.tokenizer.server;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.UnknownFieldSet;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Proto3 strings must be UTF-8, and protobuf-java refuses a request whose string fields are not;
 * grpc-java then fails the call with UNKNOWN "Application error processing RPC" (a status thrown
 * by a marshaller does not reach the client). This wraps a service's request parsing so that such
 * a request is answered INVALID_ARGUMENT naming the field ("chat.messages[1].content: not valid
 * UTF-8"): an unparseable request becomes an empty message carrying the reason in the unknown
 * field {@link #UNREADABLE_FIELD}, and the service calls {@link #rejectUnreadable} first thing.
 * Valid requests parse exactly as before; only a failed parse pays for the schema-guided look.
 */
final class Utf8CheckedRequests {
    /** The largest field number protobuf allows: no schema of ours will ever use it. */
    static final int UNREADABLE_FIELD = 536_870_911;

    private Utf8CheckedRequests() {
    }

    /** INVALID_ARGUMENT with the reason if {@code request} stands for one that could not be parsed. */
    static void rejectUnreadable(Message request) {
        if (request.getUnknownFields().hasField(UNREADABLE_FIELD)) {
            throw Errors.invalid(request.getUnknownFields().getField(UNREADABLE_FIELD).getLengthDelimitedList().getFirst().toStringUtf8());
        }
    }

    static ServerServiceDefinition wrap(ServerServiceDefinition service) {
        List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
        for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
            methods.add(checked(m));
        }
        ServiceDescriptor original = service.getServiceDescriptor();
        // the schema descriptor is what reflection serves: keep it
        ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
                .setSchemaDescriptor(original.getSchemaDescriptor());
        methods.forEach(m -> descriptor.addMethod(m.getMethodDescriptor()));
        ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(descriptor.build());
        methods.forEach(b::addMethod);
        return b.build();
    }

    private static <Q, R> ServerMethodDefinition<Q, R> checked(ServerMethodDefinition<Q, R> m) {
        MethodDescriptor<Q, R> method = m.getMethodDescriptor();
        if (!(method.getRequestMarshaller() instanceof MethodDescriptor.PrototypeMarshaller<Q> marshaller)
                || !(marshaller.getMessagePrototype() instanceof Message prototype)) {
            return m;
        }
        MethodDescriptor<Q, R> checked = method.toBuilder()
                .setRequestMarshaller(new Checked<>(marshaller, prototype))
                .build();
        return ServerMethodDefinition.create(checked, m.getServerCallHandler());
    }

    private record Checked<Q>(MethodDescriptor.PrototypeMarshaller<Q> delegate, Message prototype)
            implements MethodDescriptor.PrototypeMarshaller<Q> {
        @Override
        public Q getMessagePrototype() {
            return delegate.getMessagePrototype();
        }

        @Override
        public Class<Q> getMessageClass() {
            return delegate.getMessageClass();
        }

        @Override
        public InputStream stream(Q value) {
            return delegate.stream(value);
        }

        @Override
        public Q parse(InputStream stream) {
            byte[] bytes;
            try {
                bytes = stream.readAllBytes();
            } catch (IOException e) {
                throw Status.INTERNAL.withDescription("reading the request: " + e).withCause(e).asRuntimeException();
            }
            try {
                return delegate.parse(new ByteArrayInputStream(bytes));
            } catch (StatusRuntimeException e) {
                String field = firstNonUtf8String(prototype.getDescriptorForType(), ByteString.copyFrom(bytes), "");
                return unreadable(field != null ? field + ": not valid UTF-8 (proto3 strings must be UTF-8)"
                        : "the request is not a valid " + prototype.getDescriptorForType().getFullName() + " message");
            }
        }

        @SuppressWarnings("unchecked")
        private Q unreadable(String reason) {
            UnknownFieldSet.Field why = UnknownFieldSet.Field.newBuilder().addLengthDelimited(ByteString.copyFromUtf8(reason)).build();
            return (Q) prototype.newBuilderForType()
                    .setUnknownFields(UnknownFieldSet.newBuilder().addField(UNREADABLE_FIELD, why).build())
                    .build();
        }
    }

    /** The path of the first string field (in schema order) whose bytes are not UTF-8, or null. */
    static String firstNonUtf8String(Descriptor type, ByteString message, String prefix) {
        UnknownFieldSet fields;
        try {
            fields = UnknownFieldSet.parseFrom(message);
        } catch (InvalidProtocolBufferException notWireFormat) {
            return null;
        }
        for (FieldDescriptor f : type.getFields()) {
            if (f.getType() != FieldDescriptor.Type.STRING && f.getType() != FieldDescriptor.Type.MESSAGE) {
                continue;
            }
            List<ByteString> values = fields.getField(f.getNumber()).getLengthDelimitedList();
            for (int i = 0; i < values.size(); i++) {
                String path = prefix + f.getName() + (f.isRepeated() ? "[" + i + "]" : "");
                if (f.getType() == FieldDescriptor.Type.STRING) {
                    if (!values.get(i).isValidUtf8()) {
                        return path;
                    }
                } else {
                    String inner = firstNonUtf8String(f.getMessageType(), values.get(i), path + ".");
                    if (inner != null) {
                        return inner;
                    }
                }
            }
        }
        return null;
    }
}
