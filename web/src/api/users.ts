// Users of a team server (admins only): list, create, disable/enable, admin flag, password.

import { request } from "./client";

/** A user as `GET /users` lists it. Times are Unix seconds. */
export interface UserInfo {
  name: string;
  is_admin: boolean;
  disabled: boolean;
  has_password: boolean;
  created_at: number;
  teams: string[];
}

/** `POST /users`: the new user and its first API key, shown only in this answer. */
export interface CreatedUser {
  name: string;
  is_admin: boolean;
  api_key: string;
}

export interface NewUser {
  name: string;
  /** 8..1024 characters; without one the user signs in with API keys only. */
  password?: string;
  is_admin?: boolean;
}

/** What `PATCH /users/{name}` may change. An admin may not disable themself or drop their own admin flag. */
export interface UserPatch {
  disabled?: boolean;
  is_admin?: boolean;
  password?: string;
}

/** The shortest password the server accepts. */
export const MIN_PASSWORD = 8;

/** `/users/{name}` with the name escaped. */
export function userPath(name: string): string {
  return `/users/${encodeURIComponent(name)}`;
}

/** Every user of the server (admins only; others get a 403 ApiError). */
export async function listUsers(signal?: AbortSignal): Promise<UserInfo[]> {
  const data = await request<{ users: UserInfo[] }>("/users", signal === undefined ? {} : { signal });
  return data.users;
}

/** Create a user; an empty password is left out (key-only user). */
export function createUser(user: NewUser): Promise<CreatedUser> {
  const body: NewUser = { name: user.name.trim() };
  if (user.password !== undefined && user.password !== "") body.password = user.password;
  if (user.is_admin === true) body.is_admin = true;
  return request<CreatedUser>("/users", { method: "POST", body });
}

/** Change a user's disabled flag, admin flag or password; answers the user as it is now. */
export function updateUser(name: string, patch: UserPatch): Promise<UserInfo> {
  return request<UserInfo>(userPath(name), { method: "PATCH", body: patch });
}
