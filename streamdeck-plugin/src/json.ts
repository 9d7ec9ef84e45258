/** JSON values as the SDK passes settings and messages (its own types are not exported). */
export type JsonPrimitive = boolean | number | string | null | undefined;
export type JsonValue = JsonObject | JsonPrimitive | JsonValue[];
export type JsonObject = { [key: string]: JsonValue };
