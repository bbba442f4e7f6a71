package dev.onionrelay.api;

import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.databind.DeserializationContext;
import tools.jackson.databind.deser.jdk.StringDeserializer;
import tools.jackson.databind.exc.MismatchedInputException;

/**
 * Reads JSON strings and refuses the ones that are not Unicode text: a JSON escape can name half of a surrogate pair
 * ({@code "\ud800"}), which Java keeps as a lone {@code char} that no encoder accepts. Found in a certificate's common
 * name, it failed deep inside the key generation (a 500); refused here, it is a 400 naming the field.
 */
final class WellFormedText extends StringDeserializer {

    @Override
    public String deserialize(JsonParser parser, DeserializationContext context) throws JacksonException {
        String text = super.deserialize(parser, context);
        if (text != null && !wellFormed(text)) {
            throw new NotUnicodeException(parser);
        }
        return text;
    }

    /** Whether every surrogate in the text is half of a pair, in order. */
    static boolean wellFormed(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= text.length() || !Character.isLowSurrogate(text.charAt(i + 1))) {
                    return false;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    /** A string that is not Unicode text; {@link JsonProblems} names its field. */
    static final class NotUnicodeException extends MismatchedInputException {

        NotUnicodeException(JsonParser parser) {
            super(parser, "not valid Unicode: a lone surrogate (for example \\ud800 without its pair)", String.class);
        }
    }
}
