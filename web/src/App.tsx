import { useCallback, useEffect, useState } from "react";
import { api, session, type Me } from "./api/client";
import { Link } from "./components/ui";
import { AUDIT_READ, DEVICES_MANAGE, USERS_MANAGE, can } from "./lib/perms";
import { match, onNavigate, type Route } from "./lib/router";
import { Login } from "./pages/Login";
import { Fleet } from "./pages/Fleet";
import { DevicePage } from "./pages/Device";
import { Provisioning } from "./pages/Provisioning";
import { Users } from "./pages/Users";
import { Audit } from "./pages/Audit";

function useRoute(): Route {
  const [route, setRoute] = useState(() => match(window.location.pathname));
  useEffect(() => onNavigate(() => setRoute(match(window.location.pathname))), []);
  return route;
}

export function App() {
  const route = useRoute();
  const [me, setMe] = useState<Me | null>(null);
  const [signedIn, setSignedIn] = useState(session.signedIn);
  // A reload with a live access token renders at once; otherwise resume with the refresh token.
  const [starting, setStarting] = useState(!session.signedIn && session.canResume);

  const loadMe = useCallback(async () => {
    const { data } = await api.GET("/api/auth/me");
    setMe(data ?? null);
  }, []);

  useEffect(
    () =>
      session.onChange((now) => {
        setSignedIn(now);
        if (now) void loadMe();
        else setMe(null);
      }),
    [loadMe],
  );

  useEffect(() => {
    if (session.signedIn) void loadMe();
    else if (session.canResume) void session.refresh().finally(() => setStarting(false));
  }, [loadMe]);

  // Renew the access token quietly before it expires.
  useEffect(() => {
    if (!signedIn) return;
    const timer = window.setInterval(() => {
      if (session.renewInMs < 30_000) void session.refresh();
    }, 15_000);
    return () => window.clearInterval(timer);
  }, [signedIn]);

  useEffect(() => {
    const names: Record<Route["name"], string> = {
      fleet: "Fleet",
      device: "Device",
      provisioning: "Provisioning",
      users: "Users and roles",
      audit: "Audit log",
      notfound: "Not found",
    };
    document.title = `${route.name === "device" ? route.uuid : names[route.name]} · MSM console`;
  }, [route]);

  if (starting) return <p className="loading">Loading…</p>;
  if (!signedIn) return <Login onSignedIn={() => undefined} />;

  const nav = [
    { to: "/", label: "Fleet", show: true, active: route.name === "fleet" || route.name === "device" },
    { to: "/provisioning", label: "Provisioning", show: can(me, DEVICES_MANAGE), active: route.name === "provisioning" },
    { to: "/users", label: "Users", show: can(me, USERS_MANAGE), active: route.name === "users" },
    { to: "/audit", label: "Audit log", show: can(me, AUDIT_READ), active: route.name === "audit" },
  ];

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">MSM</span>
        <nav aria-label="Main">
          <ul>
            {nav
              .filter((n) => n.show)
              .map((n) => (
                <li key={n.to}>
                  <Link to={n.to} className={n.active ? "active" : undefined}>
                    {n.label}
                  </Link>
                </li>
              ))}
          </ul>
        </nav>
        <div className="who">
          {me && (
            <span title={me.roles.join(", ")}>
              {me.username} <span className="muted">({me.roles.join(", ")})</span>
            </span>
          )}
          <button type="button" className="link" onClick={() => void session.logout()}>
            Log out
          </button>
        </div>
      </header>
      <main id="main">
        {/* The fleet needs no permissions check to render; the other pages wait for them. */}
        {route.name === "fleet" && <Fleet />}
        {route.name !== "fleet" && !me && <p className="loading">Loading…</p>}
        {route.name === "device" && me && <DevicePage uuid={route.uuid} me={me} />}
        {route.name === "provisioning" && me && <Provisioning me={me} />}
        {route.name === "users" && me && <Users me={me} />}
        {route.name === "audit" && me && <Audit me={me} />}
        {route.name === "notfound" && (
          <p>
            No page at {route.path}. <Link to="/">Go to the fleet</Link>.
          </p>
        )}
      </main>
    </>
  );
}
