package dev.onionrelay.registry;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Durations as request bodies and configuration write them: ISO-8601 ({@code PT10S}) or a number with a unit
 * ({@code 10s}, {@code 500ms}, {@code 5m}; {@code ns}, {@code us}, {@code ms}, {@code s}, {@code m}, {@code h},
 * {@code d}; no unit means milliseconds), the same forms Spring configuration accepts, without depending on Spring.
 */
public final class Durations {

    private static final Pattern SIMPLE = Pattern.compile("^([+-]?\\d+)([a-zA-Z]{0,2})$");
    private static final Pattern ISO = Pattern.compile("^[+-]?[pP].*$");
    private static final Map<String, ChronoUnit> UNITS = Map.of(
            "ns", ChronoUnit.NANOS,
            "us", ChronoUnit.MICROS,
            "ms", ChronoUnit.MILLIS,
            "s", ChronoUnit.SECONDS,
            "m", ChronoUnit.MINUTES,
            "h", ChronoUnit.HOURS,
            "d", ChronoUnit.DAYS,
            "", ChronoUnit.MILLIS);

    private Durations() {}

    /**
     * @throws IllegalArgumentException when the text is neither form
     * @throws ArithmeticException when the amount does not fit a duration
     */
    public static Duration parse(String text) {
        Matcher simple = SIMPLE.matcher(text);
        if (simple.matches()) {
            ChronoUnit unit = UNITS.get(simple.group(2).toLowerCase(Locale.ROOT));
            if (unit == null) {
                throw new IllegalArgumentException("'" + text + "' has an unknown unit");
            }
            return Duration.of(Long.parseLong(simple.group(1)), unit);
        }
        if (ISO.matcher(text).matches()) {
            try {
                return Duration.parse(text);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("'" + text + "' is not a valid ISO-8601 duration", e);
            }
        }
        throw new IllegalArgumentException("'" + text + "' is not a duration");
    }
}
