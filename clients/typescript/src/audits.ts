// How a front end reads the audits service with the types openapi-typescript generates from its OpenAPI document.
import type { components, operations } from "../generated/audits";
import { marker } from "./geojson";

type AuditPage = operations["list_audits"]["responses"][200]["content"]["application/json"];
type Neighbourhood = operations["get_neighbourhood"]["responses"][200]["content"]["application/json"];
type Invalid = operations["create_audit"]["responses"][422]["content"]["application/problem+json"];
type Ring = components["schemas"]["PolygonRead"]["coordinates"][number];

export function firstAuditMarker(page: AuditPage): [number, number] | null {
    const first = page.items[0];
    return first === undefined ? null : marker(first.location);
}

export function nextPage(page: AuditPage): string | null {
    return page.next_cursor;
}

// The outer ring of every polygon of a neighbourhood's boundary, to draw its outline.
export function outline(neighbourhood: Neighbourhood): Ring[] {
    const boundary = neighbourhood.boundary;
    switch (boundary.type) {
        case "Polygon":
            return boundary.coordinates.slice(0, 1);
        case "MultiPolygon":
            return boundary.coordinates.map((polygon) => polygon[0]);
        default: {
            const unknown: never = boundary;
            return unknown;
        }
    }
}

// A form shows each message next to its field.
export function messagesByField(problem: Invalid): Map<string, string> {
    const status: number = problem.status;
    return new Map((problem.errors ?? []).map((error) => [error.field, `${status}: ${error.message}`]));
}
