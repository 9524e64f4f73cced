// Routes of the console: plain paths (the server answers index.html for any of them).
export type Route =
  | { name: "fleet" }
  | { name: "device"; uuid: string }
  | { name: "provisioning" }
  | { name: "users" }
  | { name: "audit" }
  | { name: "notfound"; path: string };

export function match(path: string): Route {
  const clean = path.replace(/\/+$/, "") || "/";
  if (clean === "/" || clean === "/devices") return { name: "fleet" };
  const device = /^\/devices\/([^/]+)$/.exec(clean);
  if (device) return { name: "device", uuid: decodeURIComponent(device[1]) };
  if (clean === "/provisioning") return { name: "provisioning" };
  if (clean === "/users") return { name: "users" };
  if (clean === "/audit") return { name: "audit" };
  return { name: "notfound", path: clean };
}

export function href(route: Route): string {
  switch (route.name) {
    case "fleet":
      return "/";
    case "device":
      return `/devices/${encodeURIComponent(route.uuid)}`;
    case "notfound":
      return route.path;
    default:
      return `/${route.name}`;
  }
}

const CHANGE = "msm:navigate";

export function navigate(to: string): void {
  if (to === window.location.pathname + window.location.search) return;
  window.history.pushState(null, "", to);
  window.dispatchEvent(new Event(CHANGE));
}

export function onNavigate(listener: () => void): () => void {
  window.addEventListener("popstate", listener);
  window.addEventListener(CHANGE, listener);
  return () => {
    window.removeEventListener("popstate", listener);
    window.removeEventListener(CHANGE, listener);
  };
}
