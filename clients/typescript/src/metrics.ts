// How a front end reads the metrics service with the types openapi-typescript generates from its OpenAPI document.
import type { components, operations } from "../generated/metrics";
import { marker } from "./geojson";

type Totals = operations["totals"]["responses"][200]["content"]["application/json"];
type IncidentPage = operations["list_incidents"]["responses"][200]["content"]["application/json"];
type Status = components["schemas"]["RecommendationStatus"];
type Category = components["schemas"]["RecommendationCategory"];

// A chart's bars, one per status and category of the vocabulary: every key is there, no other.
export function bars(totals: Totals): { status: Record<Status, number>; category: Record<Category, number> } {
    const status: Record<Status, number> = totals.recommendations_by_status;
    const category: Record<Category, number> = totals.recommendations_by_category;
    return { status, category };
}

export function incidentMarkers(page: IncidentPage): [number, number][] {
    return page.items.flatMap((incident) => {
        const point = marker(incident.location);
        return point === null ? [] : [point];
    });
}
