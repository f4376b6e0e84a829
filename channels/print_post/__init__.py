"""Print and post: print rules, batches by destination, one PDF per batch, the print drop.

``channel`` checks a letter and puts it in a batch; ``batches`` decides which;
``dispatch`` cuts batches and delivers them with ``assembly`` (one PDF, fonts
shared by ``fonts``) and ``manifest`` (what the print house reads).
"""
