package dev.onionrelay.registry;

/** One invalid request field, as listed in a problem's {@code errors} array. */
public record FieldProblem(String field, String message) {}
