import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, type Me, type Schemas } from "../api/client";
import { Notice, Section, TextField } from "../components/ui";
import { Table, type Column } from "../components/Table";
import { ROLES_MANAGE, can } from "../lib/perms";
import { describe, formErrors, type FormErrors } from "../lib/problems";
import { when } from "../lib/format";

type User = Schemas["UserOut"];
type Role = Schemas["RoleOut"];

export function Users({ me }: { me: Me }) {
  const [users, setUsers] = useState<User[] | null>(null);
  const [roles, setRoles] = useState<Role[]>([]);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const [u, r] = await Promise.all([api.GET("/api/users", { params: { query: { limit: 500 } } }), api.GET("/api/role")]);
    if (u.data) setUsers(u.data.items);
    else setError(describe(u.response.status, u.error));
    if (r.data) setRoles(r.data.items);
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  async function patch(user: User, change: Schemas["UserPatch"]) {
    const { error: err, response } = await api.PATCH("/api/users/{user_id}", { params: { path: { user_id: user.id } }, body: change });
    setError(response.ok ? null : describe(response.status, err));
    void load();
  }

  const columns: Column<User>[] = [
    { title: "User", rowHeader: true, cell: (u) => u.username },
    { title: "Email", cell: (u) => u.email },
    {
      title: "Roles",
      cell: (u) => (
        <fieldset className="inline">
          <legend className="sr-only">Roles of {u.username}</legend>
          <RoleChecks roles={roles} chosen={u.roles} disabled={u.id === me.id} onChange={(chosen) => void patch(u, { roles: chosen })} />
        </fieldset>
      ),
    },
    { title: "Created", cell: (u) => when(u.created_at) },
    {
      title: "Account",
      cell: (u) =>
        u.id === me.id ? (
          "you"
        ) : (
          <button type="button" className="small" onClick={() => void patch(u, { disabled: !u.disabled })}>
            {u.disabled ? `Enable ${u.username}` : `Disable ${u.username}`}
          </button>
        ),
    },
  ];

  return (
    <>
      <h1>Users and roles</h1>
      {error && <Notice kind="error">{error}</Notice>}
      <Section title="Users">
        <Table label="Users" columns={columns} rows={users} rowKey={(u) => u.id} />
      </Section>
      <Register roles={roles} onDone={load} />
      <Section title="Roles">
        <ul className="roles">
          {roles.map((r) => (
            <li key={r.name}>
              <strong>{r.name}</strong> {r.builtin && <span className="muted">(built in)</span>}: {r.permissions.join(", ") || "no permissions"}
            </li>
          ))}
        </ul>
        {!can(me, ROLES_MANAGE) && <p className="muted">Changing roles needs the roles:manage permission.</p>}
      </Section>
    </>
  );
}

/** A checkbox a role; onChange gets the roles chosen once the box clicked has turned. */
function RoleChecks({ roles, chosen, disabled, onChange }: { roles: Role[]; chosen: string[]; disabled?: boolean; onChange: (chosen: string[]) => void }) {
  return roles.map((r) => (
    <label key={r.name} className="check">
      <input
        type="checkbox"
        checked={chosen.includes(r.name)}
        disabled={disabled}
        onChange={(e) => onChange(e.target.checked ? [...chosen, r.name] : chosen.filter((x) => x !== r.name))}
      />{" "}
      {r.name}
    </label>
  ));
}

const REGISTER_FIELDS = ["username", "email", "password", "roles"] as const;

function Register({ roles, onDone }: { roles: Role[]; onDone: () => void }) {
  const empty = { username: "", email: "", password: "" };
  const [values, setValues] = useState(empty);
  const [chosen, setChosen] = useState<string[]>(["viewer"]);
  const [errors, setErrors] = useState<FormErrors>({ form: null, fields: {} });
  const [done, setDone] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setDone(null);
    const { error, response } = await api.POST("/api/auth/register", { body: { ...values, roles: chosen } });
    if (response.ok) {
      setDone(`${values.username} can now sign in.`);
      setValues(empty);
      setErrors({ form: null, fields: {} });
      onDone();
    } else {
      setErrors(formErrors(error, REGISTER_FIELDS));
      setValues((v) => ({ ...v, password: "" }));
    }
  }

  const input = (name: keyof typeof empty, label: string, type?: "email" | "password") => (
    <TextField id={`reg-${name}`} label={label} error={errors.fields[name]} type={type} value={values[name]} onChange={(x) => setValues((v) => ({ ...v, [name]: x }))} />
  );

  return (
    <Section title="Add a user">
      <form onSubmit={submit} noValidate>
        {input("username", "User name")}
        {input("email", "Email", "email")}
        {input("password", "Password (12 characters or more)", "password")}
        <fieldset>
          <legend>Roles</legend>
          <RoleChecks roles={roles} chosen={chosen} onChange={setChosen} />
          {errors.fields.roles && <small className="error">{errors.fields.roles}</small>}
        </fieldset>
        {errors.form && <Notice kind="error">{errors.form}</Notice>}
        {done && <Notice kind="ok">{done}</Notice>}
        <button type="submit">Add user</button>
      </form>
    </Section>
  );
}
