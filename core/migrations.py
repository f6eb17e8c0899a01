"""The workspace database's schema, as the migrations that build it: migration n takes a database from
user_version n to n + 1 (core.db.migrate runs the missing ones in one transaction). Never edit one that has
shipped; add the next."""

from __future__ import annotations

MIGRATIONS: tuple[str | tuple[str, ...], ...] = (
    """
    CREATE TABLE labels (
        name TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        display_en TEXT NOT NULL,
        display_ko TEXT NOT NULL
    );
    CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        ext TEXT NOT NULL,
        display_name TEXT NOT NULL,
        origin TEXT NOT NULL,
        source TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        phash TEXT NOT NULL,
        brightness REAL NOT NULL,
        sharpness REAL NOT NULL,
        label TEXT REFERENCES labels(name) ON UPDATE CASCADE,
        split TEXT CHECK (split IN ('train', 'val', 'test')),
        split_locked INTEGER NOT NULL DEFAULT 0,
        added_by TEXT NOT NULL,
        added_at TEXT NOT NULL,
        deleted_at TEXT,
        deleted_by TEXT
    );
    CREATE INDEX images_label ON images(label);
    CREATE INDEX images_added ON images(added_at);
    CREATE TABLE label_events (
        id INTEGER PRIMARY KEY,
        image_id INTEGER NOT NULL REFERENCES images(id),
        old_label TEXT,
        new_label TEXT,
        user TEXT NOT NULL,
        at TEXT NOT NULL,
        source TEXT NOT NULL
    );
    CREATE INDEX label_events_image ON label_events(image_id);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
        config TEXT NOT NULL,
        sweep TEXT,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        heartbeat_at TEXT,
        worker_pid INTEGER,
        worker_host TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        progress TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        error_hint TEXT
    );
    CREATE INDEX jobs_status ON jobs(status);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL UNIQUE REFERENCES jobs(id),
        kind TEXT NOT NULL,
        arch TEXT NOT NULL,
        config TEXT NOT NULL,
        class_names TEXT NOT NULL,
        weights TEXT NOT NULL,
        device TEXT,
        versions TEXT NOT NULL,
        created_at TEXT NOT NULL,
        finished_at TEXT,
        best_epoch INTEGER,
        val_accuracy REAL,
        val_macro_f1 REAL,
        test_accuracy REAL,
        test_macro_f1 REAL,
        checkpoint TEXT
    );
    CREATE TABLE run_images (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        image_id INTEGER NOT NULL REFERENCES images(id),
        label TEXT NOT NULL,
        split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
        held_out INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, image_id)
    );
    CREATE TABLE epochs (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        epoch INTEGER NOT NULL,
        train_loss REAL,
        train_accuracy REAL,
        val_loss REAL,
        val_accuracy REAL,
        val_macro_f1 REAL,
        lr REAL,
        seconds REAL,
        images_per_s REAL,
        steps INTEGER,
        at TEXT NOT NULL,
        PRIMARY KEY (run_id, epoch)
    );
    CREATE TABLE predictions (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        image_id INTEGER NOT NULL REFERENCES images(id),
        split TEXT NOT NULL,
        predicted TEXT NOT NULL,
        probs TEXT NOT NULL,
        PRIMARY KEY (run_id, image_id)
    );
    CREATE TABLE workers (
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL,
        PRIMARY KEY (host, pid)
    );
    CREATE TABLE embeddings (
        model_key TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model_key, sha256)
    );
    """,
    """
    ALTER TABLE epochs ADD COLUMN train_macro_f1 REAL;
    """,
    """
    ALTER TABLE runs ADD COLUMN operating_point TEXT;
    ALTER TABLE runs ADD COLUMN cpu_ms REAL;
    CREATE TABLE promotions (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        previous_run_id INTEGER REFERENCES runs(id),
        user TEXT NOT NULL,
        at TEXT NOT NULL,
        forced INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE suspects (
        image_id INTEGER PRIMARY KEY REFERENCES images(id),
        given TEXT NOT NULL,
        predicted TEXT NOT NULL,
        score REAL NOT NULL,
        flagged INTEGER NOT NULL,
        job_id INTEGER REFERENCES jobs(id),
        at TEXT NOT NULL
    );
    CREATE TABLE review_decisions (
        id INTEGER PRIMARY KEY,
        image_id INTEGER NOT NULL REFERENCES images(id),
        reason TEXT NOT NULL,
        decision TEXT NOT NULL,
        user TEXT NOT NULL,
        at TEXT NOT NULL
    );
    """,
    # 6: local accounts and the append-only audit log. Triggers contain ';', so this migration is a tuple of
    # statements rather than one script.
    (
        """CREATE TABLE users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'labeler', 'trainer', 'admin')),
            password_hash TEXT,
            email TEXT UNIQUE COLLATE NOCASE,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_sign_in TEXT
        )""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            user TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX audit_at ON audit(at)",
        "CREATE INDEX audit_user_action ON audit(user, action)",
        """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
        """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
           BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    ),
    # 7: server-side sign-in sessions (core.sessions). Only SHA-256 hashes of the cookie token and of the
    # one-time hand-off code are kept; the token itself lives in the browser's HttpOnly cookie alone.
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users(name),
        method TEXT NOT NULL,
        token_hash TEXT UNIQUE,
        handoff_hash TEXT UNIQUE,
        handoff_expires TEXT,
        created_at TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        ended_at TEXT,
        end_reason TEXT,
        lang TEXT
    );
    CREATE INDEX sessions_user ON sessions(user);
    """,
    # 8: API tokens for cameras and other systems (core.tokens). Only the SHA-256 of a token is kept; a revoked
    # token keeps its row (the audit names it), and its name may be given to a new token.
    """
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_used TEXT,
        revoked_at TEXT,
        revoked_by TEXT
    );
    CREATE UNIQUE INDEX api_tokens_live ON api_tokens(name) WHERE revoked_at IS NULL;
    """,
    # 9: stations (versioned: a change is a new row) and the append-only inspection record (core.stations,
    # core.inspections). A correction of a position's label is a new inspection_events row; triggers refuse
    # UPDATE and DELETE on all four tables.
    (
        """CREATE TABLE stations (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL,
            reference_sha256 TEXT NOT NULL, reference_ext TEXT NOT NULL,
            reference_width INTEGER NOT NULL, reference_height INTEGER NOT NULL,
            positions TEXT NOT NULL, run_id INTEGER REFERENCES runs(id), margin REAL NOT NULL,
            created_by TEXT NOT NULL, created_at TEXT NOT NULL,
            UNIQUE (name, version)
        )""",
        """CREATE TABLE inspections (
            id INTEGER PRIMARY KEY, station_id INTEGER NOT NULL REFERENCES stations(id), asset TEXT NOT NULL,
            photo_sha256 TEXT NOT NULL, photo_ext TEXT NOT NULL, photo_name TEXT NOT NULL,
            width INTEGER NOT NULL, height INTEGER NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'defect', 'check')),
            run_id INTEGER NOT NULL REFERENCES runs(id), threshold REAL,
            align_ok INTEGER NOT NULL, align_score REAL NOT NULL, align_method TEXT NOT NULL,
            align_matrix TEXT NOT NULL, align_reason TEXT,
            inspector TEXT NOT NULL, at TEXT NOT NULL
        )""",
        "CREATE INDEX inspections_asset ON inspections(asset, at)",
        "CREATE INDEX inspections_station ON inspections(station_id, at)",
        "CREATE INDEX inspections_at ON inspections(at)",
        """CREATE TABLE inspection_positions (
            inspection_id INTEGER NOT NULL REFERENCES inspections(id), position INTEGER NOT NULL, name TEXT NOT NULL,
            x0 INTEGER NOT NULL, y0 INTEGER NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL, corners TEXT NOT NULL,
            label TEXT, defect INTEGER NOT NULL, probs TEXT NOT NULL, unfit TEXT,
            PRIMARY KEY (inspection_id, position), UNIQUE (inspection_id, name)
        )""",
        """CREATE TABLE inspection_events (
            id INTEGER PRIMARY KEY, inspection_id INTEGER NOT NULL REFERENCES inspections(id),
            position TEXT NOT NULL, old_label TEXT, new_label TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
            user TEXT NOT NULL, at TEXT NOT NULL
        )""",
        "CREATE INDEX inspection_events_inspection ON inspection_events(inspection_id)",
        *(
            f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} {what}'); END"""
            for table, what in (
                ("stations", "are versioned: a change is a new version"),
                ("inspections", "are append-only: a correction is a new event"),
                ("inspection_positions", "are append-only: a correction is a new event"),
                ("inspection_events", "are append-only"),
            )
            for verb in ("UPDATE", "DELETE")
        ),
    ),
    # 10: a promotion over a production model records the photo-by-photo comparison it was made on
    # (core.compare: the photos the new run fixes and newly gets wrong, and the count of the rest), as JSON.
    """
    ALTER TABLE promotions ADD COLUMN comparison TEXT;
    """,
    # 11: each inspected position's familiarity to its model ({"percentile", "unfamiliar"} as JSON; NULL when the
    # model had no index): an unfamiliar crop makes the photo's verdict "check", never a pass
    """
    ALTER TABLE inspection_positions ADD COLUMN familiarity TEXT;
    """,
    # 12: the temperature a finished run's probabilities were calibrated with (core.calibration: fitted on its
    # validation photos; the stored predictions, the served model and its exports all use it)
    """
    ALTER TABLE runs ADD COLUMN temperature REAL;
    """,
    # 13: photos a person sent to Review with the reason (today "unfamiliar": unlike anything the model was trained
    # on), the run that judged them, its percentile and answer; append-only, the decision is review_decisions'
    (
        """CREATE TABLE review_requests (
            id INTEGER PRIMARY KEY,
            image_id INTEGER NOT NULL REFERENCES images(id),
            reason TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            percentile REAL,
            predicted TEXT,
            user TEXT NOT NULL,
            at TEXT NOT NULL
        )""",
        "CREATE INDEX review_requests_image ON review_requests(image_id)",
        *(
            f"""CREATE TRIGGER review_requests_no_{verb.lower()} BEFORE {verb} ON review_requests
                BEGIN SELECT RAISE(ABORT, 'review requests are append-only'); END"""
            for verb in ("UPDATE", "DELETE")
        ),
    ),
)
