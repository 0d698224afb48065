/* vta — voxtwilio-admin internals (placeholder; the admin tool fills this in). */
#ifndef VTA_H
#define VTA_H

typedef struct vta_migration {
    int version;
    const char *name;
    const char *sql;
} vta_migration_t;

extern const vta_migration_t vta_migrations[];

#endif
