// How a front end reads the events service with the types openapi-typescript generates from its OpenAPI document.
import type { operations } from "../generated/events";
import { marker } from "./geojson";

type EventPage = operations["list_events"]["responses"][200]["content"]["application/json"];
type Invalid = operations["create_event"]["responses"][422]["content"]["application/problem+json"];

export function eventMarkers(page: EventPage): [number, number][] {
    return page.items.flatMap((event) => {
        const point = marker(event.location);
        return point === null ? [] : [point];
    });
}

export function invalidFields(problem: Invalid): string[] {
    return (problem.errors ?? []).map((error) => error.field);
}
