// A map marker from a GeoJSON Point as the services send it: [longitude, latitude], maybe an elevation.
export interface PointLike {
    type: "Point";
    coordinates: (number | null)[];
}

export function marker(point: PointLike | null): [number, number] | null {
    if (point === null) return null;
    const [longitude, latitude] = point.coordinates;
    return longitude == null || latitude == null ? null : [longitude, latitude];
}
